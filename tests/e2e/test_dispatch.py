"""Dispatch end to end: no request waits behind a slow one while another worker is free."""

import socket
import time


def _send(port: int, path: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    return s


def _status_and_time(s: socket.socket, started: float) -> tuple[bytes, float]:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    return data.split(b" ", 2)[1], time.monotonic() - started


def test_requests_pipelined_behind_one_that_turns_slow_move_to_the_worker_that_frees_up(lanner):
    server = lanner(["-w", "2", "misbehaving"])
    for _ in range(20):  # both workers ready, and known to be fast
        assert server.request("GET", "/ok")[0].status == 200
    for round_ in range(3):
        # Sent back to back: the first two start at once on the two workers; the next two are
        # pipelined while those are still young, one behind each. One of them is behind the 4 s
        # request, and must be handed to the worker that frees up at 0.5 s.
        started = time.monotonic()
        sockets = [_send(server.port, p) for p in ("/sleep?s=4", "/sleep?s=0.5", "/sleep?s=0.05", "/ok")]
        results = [_status_and_time(s, started) for s in sockets[1:]] + [_status_and_time(sockets[0], started)]
        assert [status for status, _ in results] == [b"200"] * 4
        waited = max(t for _, t in results[:3])
        assert waited < 2.0, f"round {round_}: a request waited {waited:.2f}s behind a slow one"
    # Whether a request was pipelined behind the slow one and handed back ("handed back" in the
    # log) or waited in the master's queue depends on how fast the four arrive; either way none
    # waited behind the slow one, which is what is asserted. The hand-back itself is shown by
    # tests/python/test_reclaim.py and the dispatcher's unit tests.


def test_threads_run_requests_of_one_worker_at_once(lanner):
    server = lanner(["-w", "1", "--threads", "4", "misbehaving"])
    server.wait_for(r"Using worker: gthread")
    started = time.monotonic()
    sockets = [_send(server.port, "/sleep?s=1") for _ in range(4)]
    results = [_status_and_time(s, started) for s in sockets]
    assert [status for status, _ in results] == [b"200"] * 4
    assert max(t for _, t in results) < 1.8, results  # one at a time would take 4 s


def test_chdir_and_pythonpath(lanner, tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "greeting.py").write_text("TEXT = b'from the python path'\n")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "siteapp.py").write_text(
        "import greeting\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [greeting.TEXT]\n")
    server = lanner(["--chdir", str(tmp_path / "site"), "--pythonpath", str(tmp_path / "lib"), "siteapp"])
    resp, body = server.request("GET", "/")
    assert (resp.status, body) == (200, b"from the python path")
