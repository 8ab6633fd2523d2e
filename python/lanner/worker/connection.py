"""The worker's end of the master connection: frame reading, routing and writing.

One ``Connection`` per worker process. In the default single-threaded mode the main thread does
all reads itself (requests wait in ``pending``); with ``--threads`` a reader thread routes frames
and the request threads wait on per-stream conditions. Writes are whole frames, under a lock
when threaded.
"""

from __future__ import annotations

import collections
import socket
import struct
import threading
from typing import Callable

from lanner.worker import _protocol as P

_unpack_header = P.HEADER.unpack_from
_pack_header = P.HEADER.pack
_u32 = struct.Struct("<I")

# The most body bytes one pull asks for: large enough that a 50 MB upload takes a few hundred
# round trips (a few milliseconds), small enough to bound what a worker holds per request.
PULL_SIZE = 256 * 1024

_INITIAL_BUFFER = 256 * 1024


class ProtocolError(Exception):
    """The master sent something this worker cannot understand; the worker exits."""


class ConnectionLost(Exception):
    """The master closed the connection (it stopped or died)."""


class ClientDisconnected(OSError):
    """The HTTP client went away while the app was reading the request body."""


class Request:
    """A request received from the master and not yet finished."""

    __slots__ = ("stream", "payload", "complete")

    def __init__(self, stream: int, payload: bytes, complete: bool) -> None:
        self.stream = stream
        self.payload = payload
        self.complete = complete


class _Body:
    """Request body bytes that arrive after the request frame, pulled on demand."""

    __slots__ = ("chunks", "ended", "pulling", "aborted")

    def __init__(self) -> None:
        self.chunks: collections.deque[bytes] = collections.deque()
        self.ended = False
        self.pulling = False
        self.aborted = False


class Connection:
    def __init__(self, sock: socket.socket, threaded: bool = False) -> None:
        self.sock = sock
        self.threaded = threaded
        self._buf = bytearray(_INITIAL_BUFFER)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self.pending: collections.deque[Request] = collections.deque()
        self._unrouted = False  # read_frame_blocking left frames in the buffer that nothing has routed
        self.bodies: dict[int, _Body] = {}
        self.aborted: set[int] = set()
        self.file_acks: dict[int, bool] = {}
        self.stopping = False
        # >0 while this connection reads or writes: a signal handler must not touch it then.
        self.io_depth = 0
        self.config: dict | None = None
        self._wlock = threading.Lock() if threaded else None
        self._cond = threading.Condition() if threaded else None
        # Called by the reader for each request when threaded (instead of appending to pending).
        self.on_request: Callable[[Request], None] | None = None
        self.on_stop: Callable[[], None] | None = None
        self.on_reclaim: Callable[[], list[int]] | None = None

    # ---- writing -------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        lock = self._wlock
        if lock is None:
            self.io_depth += 1
            try:
                self.sock.sendall(data)
            except ConnectionError:
                raise ConnectionLost() from None
            finally:
                self.io_depth -= 1
        else:
            with lock:
                try:
                    self.sock.sendall(data)
                except ConnectionError:
                    raise ConnectionLost() from None

    def send_parts(self, parts: list) -> None:
        """Sends several buffers as one write where possible (no copy of large bodies)."""
        lock = self._wlock
        if lock is not None:
            lock.acquire()
        self.io_depth += 1
        try:
            total = sum(len(p) for p in parts)
            sent = self.sock.sendmsg(parts)
            while sent < total:
                # Partial write: drop what went out and send the rest.
                rest = []
                skip = sent
                for p in parts:
                    if skip >= len(p):
                        skip -= len(p)
                        continue
                    rest.append(memoryview(p)[skip:])
                    skip = 0
                parts = rest
                total -= sent
                sent = self.sock.sendmsg(parts)
        except ConnectionError:
            raise ConnectionLost() from None
        finally:
            self.io_depth -= 1
            if lock is not None:
                lock.release()

    @staticmethod
    def frame(ftype: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
        return _pack_header(len(payload), ftype, flags, stream) + payload

    def send_frame(self, ftype: int, flags: int, stream: int, payload: bytes = b"") -> None:
        self.send(_pack_header(len(payload), ftype, flags, stream) + payload)

    def send_log(self, stream: int, level: int, text: str) -> None:
        self.send_frame(P.LOG, 0, stream, bytes((level,)) + text.encode("utf-8", "replace"))

    # ---- reading -------------------------------------------------------------------------

    def read_once(self, block: bool = True) -> bool:
        """Reads what is available (waiting for something when ``block``) and routes every
        complete frame. Returns False when nothing could be read without blocking."""
        self.io_depth += 1
        try:
            return self._read_once(block)
        finally:
            self.io_depth -= 1

    def _read_once(self, block: bool) -> bool:
        if self._unrouted:
            # Frames that came in with the configuration (a STOP sent while the worker booted):
            # route them before waiting for more, which might never come.
            self._unrouted = False
            if self._start < self._end:
                self._parse()
                return True
        if self._end == len(self._buf):
            self._make_room(0)
        try:
            if block:
                n = self.sock.recv_into(self._view[self._end:])
            else:
                n = self.sock.recv_into(self._view[self._end:], 0, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except InterruptedError:
            return True
        except ConnectionError:
            raise ConnectionLost() from None
        if n == 0:
            raise ConnectionLost()
        self._end += n
        self._parse()
        return True

    def read_frame_blocking(self) -> tuple[int, int, int, bytes]:
        """Boot-time helper: returns the next frame without routing it."""
        while True:
            got = self._next_frame()
            if got is not None:
                self._unrouted = self._start < self._end
                return got
            if self._end == len(self._buf):
                self._make_room(0)
            try:
                n = self.sock.recv_into(self._view[self._end:])
            except ConnectionError:
                raise ConnectionLost() from None
            if n == 0:
                raise ConnectionLost()
            self._end += n

    def buffered_frame(self) -> tuple[int, int, int, bytes] | None:
        """The next complete frame already read, without reading more."""
        return self._next_frame()

    def _next_frame(self) -> tuple[int, int, int, bytes] | None:
        s, e = self._start, self._end
        if e - s < P.HEADER_SIZE:
            return None
        length, ftype, flags, stream = _unpack_header(self._buf, s)
        self._check_header(length, ftype, flags)
        if e - s - P.HEADER_SIZE < length:
            self._make_room(P.HEADER_SIZE + length)
            return None
        body_start = s + P.HEADER_SIZE
        payload = bytes(self._view[body_start : body_start + length])
        self._start = body_start + length
        return ftype, flags, stream, payload

    @staticmethod
    def _check_header(length: int, ftype: int, flags: int) -> None:
        if length > P.MAX_PAYLOAD:
            raise ProtocolError(f"frame of type 0x{ftype:02x} announces {length} bytes, more than {P.MAX_PAYLOAD}")
        if ftype < 0x80:
            raise ProtocolError(f"frame type 0x{ftype:02x} cannot come from the master")
        if flags & ~P.FLAG_END:
            raise ProtocolError(f"unknown flags 0x{flags:02x}")

    def _make_room(self, needed: int) -> None:
        """Compacts the buffer, or grows it, so that a frame of ``needed`` bytes fits from its
        start and at least one more byte can be read."""
        live = self._end - self._start
        size = len(self._buf)
        want = max(needed, live + 1)
        if self._start + want <= size and self._end < size:
            return
        if want <= size:
            # bytes() first: the two ranges may overlap.
            self._buf[:live] = bytes(self._view[self._start : self._end])
        else:
            new_size = size
            while new_size < want:
                new_size *= 2
            fresh = bytearray(new_size)
            fresh[:live] = self._view[self._start : self._end]
            self._view.release()
            self._buf = fresh
            self._view = memoryview(fresh)
        self._start, self._end = 0, live

    def _parse(self) -> None:
        buf = self._buf
        view = self._view
        s = self._start
        e = self._end
        size = P.HEADER_SIZE
        while e - s >= size:
            length, ftype, flags, stream = _unpack_header(buf, s)
            if e - s - size < length:
                self._start = s
                self._check_header(length, ftype, flags)
                self._make_room(size + length)
                return
            payload = bytes(view[s + size : s + size + length])
            s += size + length
            if ftype == P.REQUEST:
                req = Request(stream, payload, bool(flags & P.FLAG_END))
                if not req.complete:
                    self.bodies[stream] = _Body()
                if self.on_request is None:
                    self.pending.append(req)
                else:
                    self.on_request(req)
            else:
                self._check_header(length, ftype, flags)
                self._route(ftype, flags, stream, payload)
        self._start = s
        if s == e:
            self._start = self._end = 0

    def _route(self, ftype: int, flags: int, stream: int, payload: bytes) -> None:
        cond = self._cond
        if ftype == P.REQUEST_BODY:
            body = self.bodies.get(stream)
            if body is None:
                return  # the request finished without reading its body
            if cond is not None:
                with cond:
                    self._feed(body, payload, flags)
                    cond.notify_all()
            else:
                self._feed(body, payload, flags)
        elif ftype == P.ABORT:
            self.aborted.add(stream)
            body = self.bodies.get(stream)
            if cond is not None:
                with cond:
                    if body is not None:
                        body.aborted = True
                    cond.notify_all()
            elif body is not None:
                body.aborted = True
        elif ftype == P.FILE_ACK:
            if cond is not None:
                with cond:
                    self.file_acks[stream] = payload[:1] == b"\x01"
                    cond.notify_all()
            else:
                self.file_acks[stream] = payload[:1] == b"\x01"
        elif ftype == P.RECLAIM:
            self.reclaim()
        elif ftype == P.STOP:
            self.stopping = True
            if self.on_stop is not None:
                self.on_stop()
        elif ftype == P.CONFIG:
            import marshal

            self.config = marshal.loads(payload)
        else:
            raise ProtocolError(f"unexpected frame type 0x{ftype:02x}")

    @staticmethod
    def _feed(body: _Body, payload: bytes, flags: int) -> None:
        if payload:
            body.chunks.append(payload)
        if flags & P.FLAG_END:
            body.ended = True
        body.pulling = False

    def reclaim(self) -> None:
        """Hands every received-but-not-started request back to the master."""
        if self.on_reclaim is not None:
            streams = self.on_reclaim()
        else:
            streams = [req.stream for req in self.pending]
            self.pending.clear()
        for stream in streams:
            self.bodies.pop(stream, None)
        payload = b"".join(_u32.pack(s) for s in streams)
        self.send_frame(P.RECLAIMED, 0, 0, payload)

    # ---- request bodies ------------------------------------------------------------------

    def next_body_chunk(self, stream: int) -> bytes:
        """Returns the next piece of the request body of ``stream``, b"" at its end."""
        body = self.bodies.get(stream)
        if body is None:
            return b""
        cond = self._cond
        if cond is None:
            while not body.chunks and not body.ended and not body.aborted:
                if not body.pulling:
                    body.pulling = True
                    self.send(_pack_header(4, P.BODY_PULL, 0, stream) + _u32.pack(PULL_SIZE))
                self.read_once(block=True)
        else:
            with cond:
                while not body.chunks and not body.ended and not body.aborted:
                    if not body.pulling:
                        body.pulling = True
                        self.send(_pack_header(4, P.BODY_PULL, 0, stream) + _u32.pack(PULL_SIZE))
                    cond.wait()
        if body.chunks:
            return body.chunks.popleft()
        if body.aborted:
            raise ClientDisconnected("the client disconnected before sending the whole request body")
        return b""

    def finish_stream(self, stream: int) -> None:
        """Forgets the per-stream state once the response is complete."""
        if not (self.bodies or self.aborted or self.file_acks):
            return  # the usual request: no body stream, abort or file hand-off was recorded
        self.bodies.pop(stream, None)
        self.aborted.discard(stream)
        self.file_acks.pop(stream, None)

    def wait_file_ack(self, stream: int) -> bool:
        cond = self._cond
        if cond is None:
            while stream not in self.file_acks and stream not in self.aborted:
                self.read_once(block=True)
        else:
            with cond:
                while stream not in self.file_acks and stream not in self.aborted:
                    cond.wait()
        return self.file_acks.pop(stream, False)

    def poll(self) -> None:
        """Takes in whatever the master sent without waiting (e.g. an abort during streaming)."""
        if self._cond is None:
            while self.read_once(block=False):
                pass
