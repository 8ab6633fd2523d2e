"""Errors are handled the way users expect: 500 for app failures (traceback in the log, worker
keeps serving), 500 made by the server for an invalid response, 502 when a worker dies."""

import concurrent.futures
import re
import socket

import pytest


@pytest.fixture
def server(lanner):
    return lanner(["-w", "2", "misbehaving"])


def test_exception_in_the_app_is_a_500_with_the_traceback_logged_and_the_worker_keeps_serving(server):
    _, pid_before = server.request("GET", "/ok")
    resp, body = server.request("GET", "/raise")
    assert resp.status == 500
    assert b"Internal Server Error" in body and b"Traceback" not in body
    # The request line carries the request id, as the access log does.
    server.wait_for(r"\[ERROR\] Error handling request GET /raise \[[0-9a-f]+\] \(worker \d+, pid \d+\)")
    server.wait_for(r"RuntimeError: the view failed on purpose")
    # The worker lives on: the same two pids keep answering.
    pids = {server.request("GET", "/ok")[1] for _ in range(10)}
    assert pid_before in pids
    assert "exited unexpectedly" not in server.output


def test_exception_after_streaming_started_closes_the_connection(server):
    conn = server.connect()
    conn.request("GET", "/raise-late")
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(Exception):
        resp.read()  # an incomplete chunked body: never passed off as complete
    server.wait_for(r"failed after streaming started")


@pytest.mark.parametrize("path, problem", [
    ("/bad-status", r"invalid status 'OK'"),
    ("/bad-header", r"header 'X-Test' has an invalid value"),
    ("/bad-header-name", r"invalid header name 'Bad Name'"),
    ("/int-header", r"header 'X-Count' value must be a str, not int"),
    ("/interim", r"invalid status '101 Switching Protocols': a 1xx status is informational"),
])
def test_invalid_response_head_becomes_a_500_made_by_the_server(server, path, problem):
    data = server.raw(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    head = data.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 500 ")
    assert b"injected" not in data.lower() and b"X-Test" not in head and b"X-Count" not in head
    server.wait_for(rf"Invalid response from the app for GET {re.escape(path)} \[\w+\]: {problem}")


def test_hop_by_hop_headers_from_the_app_are_not_passed_on(server):
    data = server.raw(b"GET /hop HTTP/1.1\r\nHost: t\r\n\r\n")
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"x-kept: yes" in head.lower()
    assert b"transfer-encoding" not in head.lower()
    assert b"connection: close" in head.lower()
    assert body == b"hop"


def test_body_longer_than_its_content_length_is_cut(server):
    data = server.raw(b"GET /long HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert data.split(b"\r\n\r\n", 1)[1] == b"01234"


def _read_until_closed(server, data: bytes) -> bytes:
    """Everything the server sends until it closes the connection (with a FIN or a reset)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(chunks)


@pytest.mark.parametrize("path", ["/short", "/short-stream"])
def test_body_shorter_than_its_content_length_is_cut_off_by_closing_the_connection(server, path):
    # A keep-alive request: the client must not be left waiting for the 7 bytes that never come.
    data = _read_until_closed(server, f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"content-length: 10" in head.lower()
    assert body == b"abc"
    server.wait_for(rf"GET {re.escape(path)} \[\w+\]: the app sent 3 of the 10 bytes its Content-Length announced; the connection was closed")
    assert "unhandled exception" not in server.output


@pytest.mark.parametrize("path, status", [("/no-content", b"204"), ("/reset-content", b"205")])
def test_statuses_without_content_are_sent_without_a_body(server, path, status):
    data = _read_until_closed(server, f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    first, rest = data.split(b"\r\n\r\n", 1)
    assert first.startswith(b"HTTP/1.1 " + status + b" ")
    assert b"content-length: 5" not in first.lower()
    if status == b"204":
        assert b"x-kept: yes" in first.lower()
    # The next bytes are the second response: nothing of the app's body came in between.
    assert rest.startswith(b"HTTP/1.1 200 ")
    assert "unhandled exception" not in server.output


@pytest.mark.parametrize("path, how", [("/exit", r"exit code 7"), ("/segfault", r"signal SIGSEGV")])
def test_worker_dying_mid_request_is_a_502_and_is_replaced(server, path, how):
    server.request("GET", "/ok")
    while server.output.count("Booting worker with pid") < 2:
        server.wait_for(r"Booting worker with pid", start=server.line_count() - 1, timeout=10)
    resp, body = server.request("GET", path)
    assert resp.status == 502
    died = server.wait_for(rf"Worker \d+ \(pid (\d+)\) exited unexpectedly with {how} while serving GET {re.escape(path)}")
    # A replacement boots (its line may come before or after the one about the death), and the
    # server keeps answering.
    while server.output.count("Booting worker with pid") < 3:
        server.wait_for(r"Booting worker with pid", start=server.line_count() - 1, timeout=10)
    for _ in range(5):
        assert server.request("GET", "/ok")[0].status == 200
    assert server.output.count("Booting worker with pid") == 3
    assert int(died.group(1)) not in server.worker_pids()


def test_other_requests_are_unaffected_by_a_dying_worker(server):
    paths = ["/ok"] * 40 + ["/exit"]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda p: (p, server.request("GET", p)[0].status), paths))
    assert [s for p, s in results if p == "/ok"] == [200] * 40
    assert [s for p, s in results if p == "/exit"] == [502]


@pytest.mark.parametrize("body", [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n"])
def test_a_malformed_chunked_body_is_a_400_without_an_error_in_the_log(server, body):
    data = _read_until_closed(server, b"POST /ok HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 400 ") and b"connection: close" in head.lower()
    assert server.request("GET", "/ok")[0].status == 200
    assert "unhandled exception" not in server.output and "[ERROR]" not in server.output


def test_connect_is_refused_with_405_before_the_app_and_the_connection_goes_on(server):
    """CONNECT asks for a tunnel, which WSGI cannot give: refused as nginx does. Passed to the app,
    a 2xx answer with a body could not be sent at all (the client got a closed connection)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        head, _, body = _recv_response(s)
        assert head.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n"), head
        assert b"<h1>Method Not Allowed</h1>" in body
        s.sendall(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
        head, _, body = _recv_response(s)
        assert head.startswith(b"HTTP/1.1 200 "), head
    assert "unhandled exception" not in server.output and "[ERROR]" not in server.output


def _recv_response(s: socket.socket) -> tuple[bytes, bytes, bytes]:
    """One response with a Content-Length, read from a keep-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, sep, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    while len(body) < length:
        chunk = s.recv(4096)
        assert chunk, "connection closed mid-body"
        body += chunk
    return head, sep, body
