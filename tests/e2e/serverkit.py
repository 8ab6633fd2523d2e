"""Helpers of the end-to-end tests: the built `lanner` (the one pip-installed in .venv) against real apps.

Servers bind port 0 and the tests read the real port from the "Listening at:" line; nothing
sleeps to wait for a condition; every server runs in its own process group, killed on teardown.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
DEMO = ROOT / "examples" / "demo"
LANNER = os.environ.get("LANNER", str(ROOT / ".venv" / "bin" / "lanner"))
VENV_PYTHON = str(ROOT / ".venv" / "bin" / "python")


class Server:
    """One running `lanner` process and everything it printed."""

    def __init__(self, args: list[str], cwd: Path, env: dict | None = None, bind: str | None = "127.0.0.1:0",
                 command: list[str] | None = None) -> None:
        """``command`` runs another server the same way (gunicorn, to compare with); lanner by default."""
        full = (command or [LANNER]) + (["-b", bind] if bind else []) + args
        self.args = full
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            full, cwd=str(cwd), env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = 0

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match:
        """Waits until a line matching ``pattern`` was printed; returns the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    m = regex.search(line)
                    if m:
                        return m
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line matching {pattern!r} within {timeout}s; output:\n{self.output}")
                self._cond.wait(min(remaining, 0.5))

    def line_count(self) -> int:
        with self._cond:
            return len(self.lines)

    def started(self) -> "Server":
        m = self.wait_for(r"Listening at: (?:unix:|\S*?:(\d+))")
        self.port = int(m.group(1)) if m.group(1) else 0
        return self

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def connect(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 60.0):
        conn = self.connect(timeout)
        try:
            headers = headers or {}
            chunked = headers.get("Transfer-Encoding", "").lower() == "chunked"
            conn.request(method, path, body=body, headers=headers, encode_chunked=chunked)
            resp = conn.getresponse()
            data = resp.read()
            return resp, data
        finally:
            conn.close()

    def raw(self, data: bytes, timeout: float = 10.0) -> bytes:
        """Sends raw bytes and returns everything read until the server closes or goes quiet."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                        break
            except socket.timeout:
                pass
            return b"".join(chunks)

    def worker_pids(self) -> list[int]:
        """The pids of the worker processes (children of the master)."""
        return children(self.proc.pid)

    def descendant_pids(self) -> list[int]:
        """Every process below the master: workers, a zygote and the workers it forked."""
        found, todo = [], [self.proc.pid]
        while todo:
            below = children(todo.pop())
            found += below
            todo += below
        return found

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(10)
        self._reader.join(5)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if m:
        return len(body) >= int(m.group(1))
    return b"transfer-encoding: chunked" not in head.lower() or body.endswith(b"0\r\n\r\n")


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]
