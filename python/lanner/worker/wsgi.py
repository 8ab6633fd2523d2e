"""The WSGI (PEP 3333) adapter: turns a request frame into an environ, runs the app and turns
what it returns into response frames."""

from __future__ import annotations

import marshal
import os
import struct
import sys
import threading
import traceback
from typing import Any, Callable, Iterable

from lanner.worker import _protocol as P
from lanner.worker.connection import ClientDisconnected, Connection, ConnectionLost, ProtocolError, Request

_loads = marshal.loads
_dumps = marshal.dumps
_pack_header = P.HEADER.pack
_head_prefix = struct.Struct("<IBBII").pack  # frame header + u32 head length, in one call
_u32_from = struct.Struct("<I").unpack_from
_RESPONSE = P.RESPONSE
_RESPONSE_BODY = P.RESPONSE_BODY
_END = P.FLAG_END
_list_iterator = type(iter([]))
_tuple_iterator = type(iter(()))

# A response body smaller than this is copied into the frame; a larger one goes out with
# sendmsg() next to its header, without a copy.
_COPY_LIMIT = 64 * 1024

SERVER_SOFTWARE = "lanner"


class FileWrapper:
    """``wsgi.file_wrapper``: when the app returns one around a real file, the master sends the
    file itself; otherwise it is iterated in blocks like any iterable."""

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self) -> FileWrapper:
        return self

    def __next__(self) -> bytes:
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


class Input:
    """``wsgi.input``: the request body, received from the master as the app reads it."""

    __slots__ = ("_conn", "_stream", "_buf", "_pos", "_eof")

    def __init__(self, conn: Connection, stream: int, initial: bytes, complete: bool) -> None:
        self._conn = conn
        self._stream = stream
        self._buf = initial
        self._pos = 0
        self._eof = complete

    def _fill(self) -> bool:
        """Appends the next chunk to the unread bytes; False at the end of the body."""
        if self._eof:
            return False
        chunk = self._conn.next_body_chunk(self._stream)
        if not chunk:
            self._eof = True
            return False
        rest = self._buf[self._pos :]
        self._buf = rest + chunk if rest else chunk
        self._pos = 0
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._buf[self._pos :]]
            self._buf, self._pos = b"", 0
            while not self._eof:
                chunk = self._conn.next_body_chunk(self._stream)
                if not chunk:
                    self._eof = True
                    break
                parts.append(chunk)
            return b"".join(parts)
        while len(self._buf) - self._pos < size and self._fill():
            pass
        data = self._buf[self._pos : self._pos + size]
        self._pos += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        while True:
            nl = self._buf.find(b"\n", self._pos)
            have = len(self._buf) - self._pos
            if nl >= 0:
                end = nl + 1
                if 0 <= limit < end - self._pos:
                    end = self._pos + limit
                break
            if 0 <= limit <= have:
                end = self._pos + limit
                break
            if not self._fill():
                end = len(self._buf)
                break
        line = self._buf[self._pos : end]
        self._pos = end
        return line

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Input:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class ErrorStream:
    """``wsgi.errors``: text written here reaches the master's error log, line by line, tagged
    with the request that wrote it."""

    def __init__(self, conn: Connection, current_stream: Callable[[], int]) -> None:
        self._conn = conn
        self._current = current_stream
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors.write() takes str, not {type(text).__name__}")
        stream = self._current()
        with self._lock:
            pending = self._partial.pop(stream, "") + text
            *lines, rest = pending.split("\n")
            if rest:
                self._partial[stream] = rest
        for line in lines:
            self._conn.send_log(stream, P.LOG_ERROR, line)
        return len(text)

    def writelines(self, seq: Iterable[str]) -> None:
        for text in seq:
            self.write(text)

    def flush(self) -> None:
        if not self._partial:  # called after every request; usually nothing is held back
            return
        stream = self._current()
        with self._lock:
            rest = self._partial.pop(stream, "")
        if rest:
            self._conn.send_log(stream, P.LOG_ERROR, rest)


class _Exchange:
    """The state of one request while the app runs: what start_response was given and
    whether the head went out."""

    __slots__ = ("conn", "stream", "status", "headers", "sent")

    def __init__(self, conn: Connection, stream: int) -> None:
        self.conn = conn
        self.stream = stream
        self.status: str | None = None
        self.headers: list | None = None
        self.sent = False

    def start_response(self, status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() called a second time without exc_info")
        self.status = status
        self.headers = headers
        return self.write

    def head(self) -> bytes:
        if self.status is None:
            raise AssertionError("the app returned without calling start_response()")
        try:
            return _dumps((self.status, self.headers))
        except ValueError:
            return _dumps(_plain_head(self.status, self.headers))

    def write(self, data: bytes) -> None:
        """The legacy write() callable: sends at once."""
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"write() takes bytes, not {type(data).__name__}")
            data = bytes(data)
        if not data:
            return
        self.send_chunk(data)

    def send_chunk(self, data: bytes) -> None:
        conn = self.conn
        if self.sent:
            if len(data) < _COPY_LIMIT:
                conn.send(_pack_header(len(data), _RESPONSE_BODY, 0, self.stream) + data)
            else:
                conn.send_parts([_pack_header(len(data), _RESPONSE_BODY, 0, self.stream), data])
            return
        head = self.head()
        self.sent = True
        prefix = _head_prefix(4 + len(head) + len(data), _RESPONSE, 0, self.stream, len(head))
        if len(data) < _COPY_LIMIT:
            conn.send(prefix + head + data)
        else:
            conn.send_parts([prefix + head, data])

    def finish(self, data: bytes = b"") -> None:
        """Sends the last bytes of the body and ends the stream."""
        conn = self.conn
        if self.sent:
            frame = _pack_header(len(data), _RESPONSE_BODY, _END, self.stream)
            if len(data) < _COPY_LIMIT:
                conn.send(frame + data)
            else:
                conn.send_parts([frame, data])
            return
        head = self.head()
        self.sent = True
        prefix = _head_prefix(4 + len(head) + len(data), _RESPONSE, _END, self.stream, len(head))
        if len(data) < _COPY_LIMIT:
            conn.send(prefix + head + data)
        else:
            conn.send_parts([prefix + head, data])


def _plain_head(status: Any, headers: Any) -> tuple:
    """Converts str subclasses (e.g. Django's SafeString) to str so that marshal takes them;
    anything else is left as it is, for the master to reject with a clear message."""
    def plain(value: Any) -> Any:
        return str(value) if isinstance(value, str) else value

    if isinstance(headers, list):
        headers = [tuple(plain(v) for v in h) if isinstance(h, (tuple, list)) else h for h in headers]
    try:
        _dumps(headers)
    except ValueError:
        raise TypeError("headers must be a list of (str, str) tuples") from None
    return plain(status), headers


class Board:
    """This worker's slots of the scoreboard, a file the master created: slot i holds the stream
    id thread i is running (0 when idle), written before the app is called. When the worker dies,
    the master reads it to know which requests had started: those fail, the rest are sent to
    another worker — none lost, none run twice."""

    def __init__(self, path: str, slots: int) -> None:
        import mmap

        fd = os.open(path, os.O_RDWR)
        try:
            self._map = mmap.mmap(fd, 4 * slots)
        finally:
            os.close(fd)
        self._pack = struct.Struct("<I").pack_into

    def set(self, slot: int, stream: int) -> None:
        self._pack(self._map, 4 * slot, stream)


class WsgiHandler:
    """Runs one WSGI app for one worker connection."""

    def __init__(self, conn: Connection, app: Callable, config: dict, board: Board | None = None, hooks: Any = None) -> None:
        self.conn = conn
        self.app = app
        self.board = board
        # pre_request/post_request from a gunicorn.conf.py (lanner.worker.hooks), if it defines them.
        self.hooks = hooks if hooks is not None and (hooks.pre_request or hooks.post_request) else None
        self.worker_pid = os.getpid()
        self._local = threading.local()
        self._sync_current = 0
        threads = int(config.get("threads", 1))
        self.errors = ErrorStream(conn, self.current_stream)
        self.constants = {
            "wsgi.version": (1, 0),
            "wsgi.errors": self.errors,
            "wsgi.multithread": threads > 1,
            "wsgi.multiprocess": int(config.get("workers", 1)) > 1,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            "wsgi.input_terminated": True,
            "SCRIPT_NAME": config.get("script_name", ""),
            "SERVER_SOFTWARE": SERVER_SOFTWARE,
        }
        self._threaded = threads > 1

    def current_stream(self) -> int:
        if self._threaded:
            return getattr(self._local, "stream", 0)
        return self._sync_current

    def handle(self, req: Request, slot: int = 0) -> None:
        conn = self.conn
        stream = req.stream
        payload = req.payload
        board = self.board
        if board is not None:
            board.set(slot, stream)
        if self._threaded:
            self._local.stream = stream
        else:
            self._sync_current = stream
        exchange = _Exchange(conn, stream)
        result = None
        hooks = self.hooks
        environ = None
        try:
            head_len = _u32_from(payload)[0]
            environ = _loads(payload[4 : 4 + head_len])
            environ.update(self.constants)
            environ["wsgi.input"] = Input(conn, stream, payload[4 + head_len :], req.complete)
            if hooks is not None:
                hooks.before(environ)
            result = self.app(environ, exchange.start_response)
            self._respond(exchange, result)
        except ClientDisconnected:
            if not exchange.sent:
                exchange.status, exchange.headers = "400 Bad Request", [("Content-Length", "0")]
            self._end_quietly(exchange)
        except (KeyboardInterrupt, ConnectionLost, ProtocolError):
            raise
        except BaseException:  # the app's failure, SystemExit included: a 500, and the worker goes on
            self._app_error(exchange)
        finally:
            if result is not None:
                close = getattr(result, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:
                        conn.send_log(stream, P.LOG_ERROR, "Error closing the response iterable:\n" + traceback.format_exc())
            self.errors.flush()
            conn.finish_stream(stream)
            if hooks is not None and environ is not None:
                hooks.after(environ, exchange.status, exchange.headers)
            if board is not None:
                board.set(slot, 0)
            if not self._threaded:
                self._sync_current = 0

    def _respond(self, exchange: _Exchange, result: Iterable[bytes]) -> None:
        rtype = type(result)
        if rtype is list or rtype is tuple:
            exchange.finish(_join(result))
            return
        if rtype is FileWrapper and self._send_file(exchange, result):
            return
        it = iter(result)
        itype = type(it)
        if itype is _list_iterator or itype is _tuple_iterator:
            # A materialised body behind an iterator (Django's HttpResponse): one frame.
            exchange.finish(_join(list(it)))
            return
        conn = self.conn
        stream = exchange.stream
        for chunk in it:
            if type(chunk) is not bytes:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise TypeError(f"the response iterable yielded {type(chunk).__name__}, not bytes")
                chunk = bytes(chunk)
            if not chunk:
                continue
            exchange.send_chunk(chunk)
            if not conn.threaded:
                conn.poll()
            if stream in conn.aborted:
                exchange.finish()
                return
        exchange.finish()

    def _send_file(self, exchange: _Exchange, wrapper: FileWrapper) -> bool:
        """Hands a real file to the master; False when it must be iterated instead."""
        filelike = wrapper.filelike
        try:
            fd = filelike.fileno()
            offset = filelike.tell()
            st = os.fstat(fd)
        except (AttributeError, OSError, ValueError):
            return False
        import stat

        if not stat.S_ISREG(st.st_mode):
            return False
        count = max(st.st_size - offset, 0)
        if exchange.status is None:
            raise AssertionError("the app returned without calling start_response()")
        head = exchange.head()
        spec = _dumps((fd, offset, count))
        payload = struct.pack("<I", len(head)) + head + spec
        self.conn.send_frame(P.RESPONSE_FILE, 0, exchange.stream, payload)
        if self.conn.wait_file_ack(exchange.stream):
            exchange.sent = True
            return True
        # The master could not open it: send the bytes ourselves (the head has not gone out).
        return False

    def _app_error(self, exchange: _Exchange) -> None:
        tb = traceback.format_exc()
        self.conn.send_frame(P.APP_ERROR, _END, exchange.stream, tb.encode("utf-8", "replace"))

    def _end_quietly(self, exchange: _Exchange) -> None:
        try:
            exchange.finish()
        except Exception:
            self._app_error(exchange)


def _join(chunks: Any) -> bytes:
    if len(chunks) == 1:
        data = chunks[0]
        if type(data) is bytes:
            return data
    try:
        return b"".join(chunks)
    except TypeError:
        for chunk in chunks:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"the response iterable yielded {type(chunk).__name__}, not bytes") from None
        raise
