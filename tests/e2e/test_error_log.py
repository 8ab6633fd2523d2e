"""The error log: --error-logfile, --log-level, and USR1 reopening the file after logrotate."""

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from serverkit import APPS, LANNER


def wait_for_line(path: Path, pattern: str, timeout: float = 30.0) -> re.Match:
    """Polls the log file (written by a background writer) until a line matches."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        m = re.search(pattern, text, re.M)
        if m:
            return m
        time.sleep(0.05)
    raise AssertionError(f"no line matching {pattern!r} in {path} within {timeout}s:\n{text}")


def started(server, log: Path):
    server.port = int(wait_for_line(log, r"Listening at: http://127\.0\.0\.1:(\d+)").group(1))
    return server


def test_error_logfile_gets_every_line_and_stderr_none(lanner, tmp_path):
    log = tmp_path / "error.log"
    server = started(lanner(["-w", "2", "--error-logfile", str(log), "misbehaving"], wait=False), log)
    assert server.request("GET", "/raise")[0].status == 500
    wait_for_line(log, r"\[ERROR\] Error handling request GET /raise \[\w+\] \(worker \d+, pid \d+\)")
    wait_for_line(log, r"RuntimeError: the view failed on purpose")
    text = log.read_text()
    assert re.search(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[INFO\] Starting lanner", text, re.M)
    assert text.count("Booting worker with pid") == 2
    assert server.stop() == 0
    wait_for_line(log, r"\[INFO\] Shutting down: Master")
    # Nothing of the master's went to the terminal (the workers' own output would, as in gunicorn).
    assert "Listening at" not in server.output and "Error handling request" not in server.output, server.output
    assert "\x1b[" not in log.read_text()  # a file never gets colour


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_log_level_warning_drops_info_lines_but_keeps_errors(lanner, tmp_path):
    log = tmp_path / "error.log"
    port = free_port()  # "Listening at" is an INFO line: it will not be there to read the port from
    server = lanner(["--error-logfile", str(log), "--log-level", "warning", "-b", f"127.0.0.1:{port}", "misbehaving"],
                    bind=None, wait=False)
    server.port = port
    deadline = time.monotonic() + 30
    while True:
        try:
            status = server.request("GET", "/raise", timeout=5)[0].status
            break
        except OSError:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
    assert status == 500
    wait_for_line(log, r"\[ERROR\] Error handling request GET /raise")
    server.send_signal(signal.SIGTTIN)  # "Handling signal: ttin" is INFO too
    assert server.stop() == 0
    text = log.read_text()
    assert "[INFO]" not in text, text


def refused(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        return s.recv(200).split(b"\r\n", 1)[0]


def test_requests_refused_as_malformed_are_debug_lines_with_the_reason(lanner, tmp_path):
    """gunicorn logs "Invalid request from ip=...: <reason>" at debug; Kestrel refuses these
    before Lanner sees them, so its own line comes through instead: the reason, no stack."""
    log = tmp_path / "error.log"
    server = started(lanner(["--error-logfile", str(log), "--log-level", "debug", "hello"], wait=False), log)
    assert refused(server.port, b"GARBAGE\r\n\r\n") == b"HTTP/1.1 400 Bad Request"
    assert refused(server.port, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n") == b"HTTP/1.1 414 URI Too Long"
    wait_for_line(log, r'\[DEBUG\] Connection id "\w+" bad request data: "Invalid request line')
    wait_for_line(log, r'\[DEBUG\] Connection id "\w+" bad request data: "Request line too long')
    assert server.stop() == 0
    assert "   at Microsoft.AspNetCore" not in log.read_text()

    quiet = tmp_path / "info.log"
    server = started(lanner(["--error-logfile", str(quiet), "hello"], wait=False), quiet)
    assert refused(server.port, b"GARBAGE\r\n\r\n") == b"HTTP/1.1 400 Bad Request"
    assert server.request("GET", "/")[0].status == 200
    assert server.stop() == 0
    assert "bad request data" not in quiet.read_text()


def test_usr1_reopens_the_error_log_after_it_was_moved(lanner, tmp_path):
    log = tmp_path / "error.log"
    server = started(lanner(["--error-logfile", str(log), "misbehaving"], wait=False), log)
    rotated = tmp_path / "error.log.1"
    log.rename(rotated)
    server.send_signal(signal.SIGUSR1)
    wait_for_line(log, r"\[INFO\] Reopening log files")
    assert server.request("GET", "/raise")[0].status == 500
    wait_for_line(log, r"Error handling request GET /raise")
    old = rotated.read_text()
    assert "Starting lanner" in old and "Error handling request" not in old


def test_error_logfile_that_cannot_be_opened_is_one_line_and_exit_1(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "error.log"
    run = subprocess.run([LANNER, "--error-logfile", str(missing), "-b", "127.0.0.1:0", "hello"], cwd=APPS,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 1
    assert f"cannot open the error log {missing}" in run.stderr, run.stderr
