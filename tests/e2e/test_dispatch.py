"""Dispatch end to end: no request waits behind a slow one while another worker is free."""

import re
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
    assert re.search(r"Worker \d+ \(pid \d+\) handed back 1 queued request\(s\)", server.output), server.output
