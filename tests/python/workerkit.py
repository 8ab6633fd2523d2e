"""Helpers of the worker tests: the worker package on sys.path, and a fake master over a socketpair."""

from __future__ import annotations

import marshal
import socket
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from lanner.worker import _protocol as P  # noqa: E402
from lanner.worker.connection import Connection  # noqa: E402

HEADER = struct.Struct("<IBBI")


def base_environ(**extra: str) -> dict:
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "RAW_URI": "/",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "4000",
    }
    env.update(extra)
    return env


class FakeMaster:
    """The master's end of a worker connection: writes request frames, reads what comes back."""

    def __init__(self) -> None:
        self.sock, worker_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.conn = Connection(worker_sock)
        self._buf = b""

    def request(self, stream: int, environ: dict, body: bytes = b"", complete: bool = True) -> None:
        head = marshal.dumps(environ)
        payload = struct.pack("<I", len(head)) + head + body
        self.send(P.REQUEST, P.FLAG_END if complete else 0, stream, payload)

    def send(self, ftype: int, flags: int, stream: int, payload: bytes = b"") -> None:
        self.sock.sendall(HEADER.pack(len(payload), ftype, flags, stream) + payload)

    def body(self, stream: int, data: bytes, end: bool = False) -> None:
        self.send(P.REQUEST_BODY, P.FLAG_END if end else 0, stream, data)

    def frames(self) -> list[tuple[int, int, int, bytes]]:
        """Every frame the worker has written so far."""
        self.sock.setblocking(False)
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    break
                self._buf += chunk
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)
        out = []
        while len(self._buf) >= 10:
            length, ftype, flags, stream = HEADER.unpack_from(self._buf)
            if len(self._buf) < 10 + length:
                break
            out.append((ftype, flags, stream, self._buf[10 : 10 + length]))
            self._buf = self._buf[10 + length :]
        return out

    def close(self) -> None:
        self.sock.close()
        self.conn.sock.close()


class Response:
    """What the worker answered for one stream, decoded."""

    def __init__(self, frames: list[tuple[int, int, int, bytes]], stream: int) -> None:
        self.status = None
        self.headers = None
        self.body = b""
        self.ended = False
        self.app_error = None
        self.logs: list[str] = []
        self.pulls = 0
        self.types = []
        for ftype, flags, s, payload in frames:
            if s != stream:
                continue
            self.types.append(ftype)
            if ftype == P.RESPONSE:
                (hl,) = struct.unpack_from("<I", payload)
                self.status, self.headers = marshal.loads(payload[4 : 4 + hl])
                self.body += payload[4 + hl :]
            elif ftype == P.RESPONSE_BODY:
                self.body += payload
            elif ftype == P.APP_ERROR:
                self.app_error = payload.decode()
                self.ended = True
            elif ftype == P.LOG:
                self.logs.append(payload[1:].decode())
            elif ftype == P.BODY_PULL:
                self.pulls += 1
            if ftype in (P.RESPONSE, P.RESPONSE_BODY) and flags & P.FLAG_END:
                self.ended = True

