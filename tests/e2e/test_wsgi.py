"""PEP 3333 end to end: an app wrapped in wsgiref.validate.validator, driven over HTTP."""

import hashlib
import json
import os
import socket
import time

import pytest

APP = ["-w", "2", "validated"]


@pytest.fixture(scope="module")
def server(request):
    from serverkit import APPS, Server

    s = Server(APP, APPS).started()
    request.addfinalizer(s.kill)
    return s


def echo(server, method="GET", path="/echo", body=None, headers=None):
    resp, data = server.request(method, path, body, headers)
    assert resp.status == 200, data
    return json.loads(data)


def test_get_with_query(server):
    env = echo(server, path="/echo/a%20b?x=1&y=%20z")
    assert env["REQUEST_METHOD"] == "GET"
    assert env["PATH_INFO"] == "/echo/a b"
    assert env["QUERY_STRING"] == "x=1&y=%20z"
    assert env["RAW_URI"] == "/echo/a%20b?x=1&y=%20z"
    assert env["SCRIPT_NAME"] == ""
    assert env["SERVER_NAME"] == "127.0.0.1" and env["SERVER_PORT"] == str(server.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["REMOTE_PORT"].isdigit()
    assert env["wsgi.url_scheme"] == "http"
    assert "CONTENT_LENGTH" not in env and env["body_length"] == 0


def test_utf8_path_arrives_as_its_latin1_reading(server):
    env = echo(server, path="/echo/caf%C3%A9")
    assert env["PATH_INFO"] == "/echo/caf\u00c3\u00a9"
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8") == "/echo/café"


def test_head_gets_the_headers_without_the_body(server):
    resp, data = server.request("HEAD", "/head-size")
    assert resp.status == 200
    assert resp.getheader("Content-Length") == "1234"
    assert data == b""


def test_post_with_content_length(server):
    body = b"field=value&other=1"
    env = echo(server, "POST", "/echo", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert env["CONTENT_LENGTH"] == str(len(body))
    assert env["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert "HTTP_CONTENT_TYPE" not in env["headers"] and "HTTP_CONTENT_LENGTH" not in env["headers"]


def test_post_chunked(server):
    parts = [b"first part,", b"second part,", b"third"]

    def gen():
        yield from parts

    env = echo(server, "POST", "/echo", gen(), {"Transfer-Encoding": "chunked", "Content-Type": "text/plain"})
    assert env["body_sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
    assert "CONTENT_LENGTH" not in env
    assert env["input_terminated"] is True


def test_readline_over_a_body(server):
    resp, data = server.request("POST", "/lines", b"one\ntwo\r\nthree")
    assert json.loads(data) == ["one\n", "two\r\n", "three"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_50_mb_upload(server, chunked):
    block = os.urandom(1 << 20)
    size = 50
    digest = hashlib.sha256()
    for _ in range(size):
        digest.update(block)
    headers = {"Content-Type": "application/octet-stream"}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        body = (block for _ in range(size))
    else:
        headers["Content-Length"] = str(size << 20)
        body = (block for _ in range(size))
    resp, data = server.request("POST", "/upload", body, headers, timeout=120)
    assert resp.status == 200
    assert json.loads(data) == {"length": size << 20, "sha256": digest.hexdigest()}


def test_streaming_reaches_the_client_as_it_is_produced(server):
    conn = server.connect()
    conn.request("GET", "/stream?n=4&gap=0.4")
    resp = conn.getresponse()
    arrivals = []
    while True:
        line = resp.fp.readline()  # chunk size line
        if not line:
            break
        size = int(line.strip(), 16)
        if size == 0:
            break
        chunk = resp.fp.read(size + 2)
        arrivals.append((time.monotonic(), chunk))
    conn.close()
    assert [c[:7] for _, c in arrivals] == [b"chunk 0", b"chunk 1", b"chunk 2", b"chunk 3"]
    gaps = [b[0] - a[0] for a, b in zip(arrivals, arrivals[1:])]
    assert all(g > 0.25 for g in gaps), gaps


def test_file_wrapper_is_sent_by_the_master(server):
    resp, data = server.request("GET", "/file?size=300000")
    assert resp.status == 200
    assert resp.getheader("Content-Length") == "300000"
    assert data == bytes(i % 251 for i in range(300000))


def test_repeated_headers_are_joined_and_underscored_names_dropped(server):
    raw = (b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Multi: a\r\nX-Multi: b\r\n"
           b"X_Spoofed: evil\r\nX-Spoofed: good\r\nConnection: close\r\n\r\n")
    data = server.raw(raw)
    env = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert env["headers"]["HTTP_X_MULTI"] == "a, b"
    assert env["headers"]["HTTP_X_SPOOFED"] == "good"


def test_header_value_with_high_bytes_is_latin1(server):
    data = server.raw(b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Name: Jos\xc3\xa9\r\nConnection: close\r\n\r\n")
    env = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert env["headers"]["HTTP_X_NAME"] == "Jos\u00c3\u00a9"


# A table of raw requests and the environ they must produce.
ENVIRON_TABLE = [
    (b"GET /echo HTTP/1.0\r\n\r\n", {"SERVER_PROTOCOL": "HTTP/1.0", "SERVER_NAME": "127.0.0.1", "PATH_INFO": "/echo"}),
    (b"GET /echo?a=%41 HTTP/1.1\r\nHost: example.com\r\n\r\n",
     {"SERVER_NAME": "example.com", "SERVER_PORT": "80", "QUERY_STRING": "a=%41"}),
    (b"GET /echo HTTP/1.1\r\nHost: example.com:8443\r\n\r\n", {"SERVER_NAME": "example.com", "SERVER_PORT": "8443"}),
    (b"GET http://other.example/echo/x?q HTTP/1.1\r\nHost: other.example\r\n\r\n", {"PATH_INFO": "/echo/x", "QUERY_STRING": "q"}),
    (b"GET /echo/%2e%2e/%2F HTTP/1.1\r\nHost: h\r\n\r\n", {"PATH_INFO": "/echo/..//"}),
    (b"DELETE /echo HTTP/1.1\r\nHost: h\r\n\r\n", {"REQUEST_METHOD": "DELETE"}),
    (b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Type: a/b\r\n\r\nabc",
     {"CONTENT_LENGTH": "3", "CONTENT_TYPE": "a/b", "body_length": 3}),
]


@pytest.mark.parametrize("raw, expected", ENVIRON_TABLE, ids=[r.split(b"\r\n")[0].decode() for r, _ in ENVIRON_TABLE])
def test_environ_table(server, raw, expected):
    head, body = raw.split(b"\r\n\r\n", 1)
    data = server.raw(head + b"\r\nConnection: close\r\n\r\n" + body)
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    env = json.loads(data.split(b"\r\n\r\n", 1)[1])
    for key, value in expected.items():
        assert env[key] == value, key


def test_keep_alive_connection_serves_many_requests(server):
    conn = server.connect()
    for i in range(20):
        conn.request("GET", f"/echo?i={i}")
        resp = conn.getresponse()
        assert json.loads(resp.read())["QUERY_STRING"] == f"i={i}"
    conn.close()


def test_wsgi_errors_reach_the_log_with_the_request_line(server):
    mark = server.line_count()
    echo(server, path="/echo/logged")
    server.wait_for(r"GET /echo/logged \[\w+\]: echo /echo/logged", start=mark)


def _exchange(server, raw: bytes) -> tuple[bytes, bool]:
    """Sends raw bytes on one connection; the first response, and whether the server then closed."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")))
        while len(body) < length:
            body += s.recv(65536)
        rest = body[length:]
        s.settimeout(2)
        try:
            closed = s.recv(65536) == b"" and not rest
        except socket.timeout:
            closed = False
        return head + b"\r\n\r\n" + body[:length], closed


def test_content_length_with_transfer_encoding_is_read_as_chunked_and_the_connection_closed(server):
    """RFC 9112 6.3: Transfer-Encoding wins and the connection closes after the response, so bytes
    that a front end counted by Content-Length cannot be smuggled in as a second request."""
    response, closed = _exchange(server, b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                                         b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                                         b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 "), response[:200]
    env = json.loads(response.split(b"\r\n\r\n", 1)[1])
    assert env["body_sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert "CONTENT_LENGTH" not in env
    assert closed


@pytest.mark.parametrize("headers", [
    b"Content-Length: 3\r\nContent-Length: 4\r\n",  # two lengths
    b"Content-Length: 3, 4\r\n",
    b"Transfer-Encoding: chunked, gzip\r\n",  # chunked not last: no way to find the end
    b"Transfer-Encoding: gzip\r\n",
], ids=["two-lengths", "length-list", "chunked-not-last", "no-chunked"])
def test_ambiguous_framing_is_a_400_and_the_connection_closed(server, headers):
    response, closed = _exchange(server, b"POST /echo HTTP/1.1\r\nHost: h\r\n" + headers + b"\r\nabcd")
    assert response.startswith(b"HTTP/1.1 400 "), response[:200]
    assert closed
