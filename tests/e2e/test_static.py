"""Static files served by the master: validators, ranges, encodings, caching, and refusals."""

import gzip
import os

import pytest

from serverkit import Server


@pytest.fixture(scope="module")
def static(tmp_path_factory, request):
    root = tmp_path_factory.mktemp("static")
    (root / "style.css").write_text("body { color: #123; }\n" * 50)
    (root / "app.0123456789ab.js").write_text("console.log('hashed');\n")
    (root / "big.bin").write_bytes(os.urandom(1 << 20))  # above the in-memory limit: streamed
    text = b"precompressed text " * 200
    (root / "data.txt").write_bytes(text)
    (root / "data.txt.gz").write_bytes(gzip.compress(text))
    (root / "data.txt.br").write_bytes(b"pretend-brotli-bytes")
    (root / ".env").write_text("SECRET=1\n")
    (root / "sub").mkdir()
    (root / "sub" / "inner.txt").write_text("inner\n")
    (root / "sub" / ".git").mkdir()
    (root / "sub" / ".git" / "config").write_text("[core]\n")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("outside the root\n")
    (root / "link-inside.txt").symlink_to(root / "sub" / "inner.txt")
    (root / "link-outside.txt").symlink_to(outside / "secret.txt")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    server = Server(["--static", f"/static/={root}", "hello"], __import__("serverkit").APPS).started()
    request.addfinalizer(server.kill)
    return server


def get(server, path, headers=None, method="GET"):
    resp, body = server.request(method, path, headers=headers)
    return resp, body


def test_plain_file_with_type_validators_and_short_caching(static):
    resp, body = get(static, "/static/style.css")
    assert resp.status == 200
    assert body.startswith(b"body {")
    assert resp.getheader("Content-Type") == "text/css; charset=utf-8"
    assert resp.getheader("Content-Length") == str(len(body))
    assert resp.getheader("ETag").startswith('"') and resp.getheader("Last-Modified").endswith("GMT")
    assert resp.getheader("Cache-Control") == "public, max-age=60"
    assert resp.getheader("Accept-Ranges") == "bytes"


def test_hashed_name_is_cached_for_a_year_as_immutable(static):
    resp, _ = get(static, "/static/app.0123456789ab.js")
    assert resp.status == 200
    assert resp.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    assert resp.getheader("Content-Type").startswith("text/javascript")


def test_if_none_match_and_if_modified_since_give_304(static):
    first, _ = get(static, "/static/style.css")
    resp, body = get(static, "/static/style.css", {"If-None-Match": first.getheader("ETag")})
    assert resp.status == 304 and body == b""
    resp, _ = get(static, "/static/style.css", {"If-None-Match": 'W/' + first.getheader("ETag")})
    assert resp.status == 304
    resp, _ = get(static, "/static/style.css", {"If-Modified-Since": first.getheader("Last-Modified")})
    assert resp.status == 304
    resp, _ = get(static, "/static/style.css", {"If-None-Match": '"other"', "If-Modified-Since": first.getheader("Last-Modified")})
    assert resp.status == 200  # If-None-Match wins


def test_ranges(static):
    full = get(static, "/static/style.css")[1]
    resp, body = get(static, "/static/style.css", {"Range": "bytes=0-9"})
    assert resp.status == 206 and body == full[:10]
    assert resp.getheader("Content-Range") == f"bytes 0-9/{len(full)}"
    resp, body = get(static, "/static/style.css", {"Range": "bytes=-5"})
    assert resp.status == 206 and body == full[-5:]
    resp, body = get(static, "/static/style.css", {"Range": "bytes=10-"})
    assert resp.status == 206 and body == full[10:]
    resp, body = get(static, "/static/style.css", {"Range": f"bytes={len(full)}-"})
    assert resp.status == 416 and resp.getheader("Content-Range") == f"bytes */{len(full)}"
    resp, body = get(static, "/static/style.css", {"Range": "bytes=0-1,5-6"})
    assert resp.status == 200 and body == full  # several ranges: the whole file
    resp, body = get(static, "/static/style.css", {"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert resp.status == 200 and body == full


def test_large_file_streams_whole_and_in_ranges(static):
    resp, body = get(static, "/static/big.bin")
    assert resp.status == 200 and len(body) == 1 << 20
    resp, part = get(static, "/static/big.bin", {"Range": "bytes=500000-500099"})
    assert resp.status == 206 and part == body[500000:500100]


def test_head(static):
    resp, body = get(static, "/static/style.css", method="HEAD")
    assert resp.status == 200 and body == b"" and int(resp.getheader("Content-Length")) > 0


@pytest.mark.parametrize("accept, encoding, expected", [
    ("br, gzip", "br", b"pretend-brotli-bytes"),
    ("gzip, deflate", "gzip", None),
    ("br;q=0, gzip", "gzip", None),
    ("identity", None, b"precompressed text "),
    (None, None, b"precompressed text "),
])
def test_precompressed_siblings_by_accept_encoding(static, accept, encoding, expected):
    resp, body = get(static, "/static/data.txt", {"Accept-Encoding": accept} if accept else {})
    assert resp.status == 200
    assert resp.getheader("Vary") == "Accept-Encoding"
    assert resp.getheader("Content-Encoding") == encoding
    assert resp.getheader("Content-Type") == "text/plain; charset=utf-8"
    if encoding == "gzip":
        assert gzip.decompress(body).startswith(b"precompressed text ")
    else:
        assert body.startswith(expected)


def test_symlink_inside_the_root_is_served(static):
    resp, body = get(static, "/static/link-inside.txt")
    assert resp.status == 200 and body == b"inner\n"


TRAVERSALS = [
    "/static/../hello.py",
    "/static/%2e%2e/hello.py",
    "/static/%2E%2E/hello.py",
    "/static/..%2fhello.py",
    "/static/..%2Fhello.py",
    "/static/%2e%2e%2fhello.py",
    "/static/sub/../../hello.py",
    "/static/sub/%2e%2e/%2e%2e/hello.py",
    "/static/..%5chello.py",
    "/static/sub%5c..%5c..%5chello.py",
    "/static/%252e%252e/hello.py",
    "/static/%252e%252e%252fhello.py",
    "/static/.%2e/hello.py",
    "/static/sub/./inner.txt",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/..;/hello.py",
    "/static/%00../hello.py",
    "/static/style.css%00.txt",
    "/static/%c0%ae%c0%ae/hello.py",
    "/static/.env",
    "/static/%2eenv",
    "/static/sub/.git/config",
    "/static/link-outside.txt",
    "/static/linkdir/secret.txt",
    "/static/sub/",
    "/static/sub",
    "/static/",
    "/static/nope.css",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_refused_paths_are_404_never_content_and_never_500(static, path):
    data = static.raw(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    status = data.split(b" ", 2)[1]
    assert status in (b"404", b"400"), (path, data[:200])
    assert b"outside the root" not in data and b"SECRET" not in data and b"[core]" not in data
    assert b"def app" not in data


def test_a_symlink_leading_out_of_the_root_is_a_404_with_one_warning_naming_it(static):
    for _ in range(3):
        resp, body = get(static, "/static/linkdir/secret.txt")
        assert resp.status == 404 and b"outside the root" not in body
    line = static.wait_for(r"\[WARNING\] Not serving /static/linkdir/secret\.txt: it is a symlink to (\S+), outside the static root (\S+) ")
    assert line.group(1).endswith("/secret.txt") and not line.group(1).startswith(line.group(2) + "/")
    assert static.output.count("Not serving /static/linkdir/secret.txt:") == 1


def test_other_methods_are_refused(static):
    resp, _ = get(static, "/static/style.css", method="POST")
    assert resp.status == 405 and resp.getheader("Allow") == "GET, HEAD"


def test_outside_the_mount_goes_to_the_app(static):
    resp, body = get(static, "/elsewhere")
    assert (resp.status, body) == (200, b"Hello, World!")
