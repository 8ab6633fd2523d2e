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
