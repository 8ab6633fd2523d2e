"""--limit-request-field_size counts each header line as gunicorn does ("Name: value" and its
CRLF), field by field, for every request: the app's, static files', and headers the environ drops."""

import pytest


@pytest.fixture
def server(lanner, tmp_path):
    (tmp_path / "f.txt").write_text("static file\n")
    return lanner(["--limit-request-field_size", "50", "--static", f"/s/={tmp_path}", "hello"])


def status(server, path="/", fields=()):
    head = f"GET {path} HTTP/1.1\r\nHost: t\r\n" + "".join(f"{f}\r\n" for f in fields) + "Connection: close\r\n\r\n"
    return server.raw(head.encode()).split(b" ", 2)[1]


def test_the_line_with_its_crlf_is_counted(server):
    assert status(server, fields=["X-Long: " + "v" * 40]) == b"200"  # 48 characters and CRLF: 50
    assert status(server, fields=["X-Long: " + "v" * 41]) == b"431"  # 51


def test_repeated_fields_are_counted_one_by_one(server):
    # Together over the limit, each under it: as HTTP/2 clients send their cookies.
    assert status(server, fields=["Cookie: a=" + "1" * 30, "Cookie: b=" + "2" * 30]) == b"200"


def test_a_field_the_environ_drops_is_still_limited(server):
    assert status(server, fields=["X_Long: " + "v" * 60]) == b"431"


def test_static_files_are_limited_too(server):
    assert status(server, "/s/f.txt") == b"200"
    assert status(server, "/s/f.txt", fields=["X-Long: " + "v" * 60]) == b"431"


def test_limit_request_line_0_means_no_limit_of_its_own(lanner):
    server = lanner(["--limit-request-line", "0", "hello"])
    long_target = "/" + "a" * 20000
    data = server.raw(f"GET {long_target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    assert data.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("keepalive, closes", [("0", True), ("5", False)])
def test_keep_alive_0_closes_every_connection(lanner, keepalive, closes):
    server = lanner(["--keep-alive", keepalive, "hello"])
    conn = server.connect()
    conn.request("GET", "/")
    resp = conn.getresponse()
    assert resp.read() == b"Hello, World!"
    assert (resp.getheader("Connection") == "close") == closes
    assert resp.will_close == closes
    conn.close()


def test_gthread_is_named_as_gunicorn_names_it(lanner):
    assert "Using worker: gthread" in lanner(["-k", "gthread", "hello"]).wait_for(r"Using worker: \w+").group(0)
    assert "Using worker: sync" in lanner(["hello"]).wait_for(r"Using worker: \w+").group(0)
