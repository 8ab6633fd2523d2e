"""The WSGI adapter, driven frame by frame through a fake master."""

from __future__ import annotations

import sys

import pytest

from workerkit import Response, base_environ
from lanner.worker import _protocol as P
from lanner.worker.wsgi import FileWrapper, Input, WsgiHandler

CONFIG = {"threads": 1, "workers": 2, "script_name": ""}


def run(master, app, environ=None, body=b"", complete=True, stream=1, before=None):
    handler = WsgiHandler(master.conn, app, CONFIG)
    master.request(stream, environ or base_environ(), body, complete)
    if before:
        before()
    master.conn.read_once(True)
    handler.handle(master.conn.pending.popleft())
    return Response(master.frames(), stream)


class Closing:
    """An iterable that counts close() calls."""

    def __init__(self, chunks, fail_at=None):
        self.chunks = chunks
        self.fail_at = fail_at
        self.closed = 0

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("failed while iterating")
            yield chunk

    def close(self):
        self.closed += 1


def test_environ_has_every_pep3333_key_with_its_type(master):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [])
        return [b""]

    run(master, app, base_environ(CONTENT_TYPE="text/plain", CONTENT_LENGTH="0"))
    for key in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
                "SERVER_PROTOCOL", "CONTENT_TYPE", "CONTENT_LENGTH"):
        assert type(seen[key]) is str, key
    assert seen["wsgi.version"] == (1, 0)
    assert seen["wsgi.url_scheme"] == "http"
    assert isinstance(seen["wsgi.input"], Input)
    assert callable(seen["wsgi.errors"].write) and callable(seen["wsgi.errors"].flush)
    assert seen["wsgi.multithread"] is False
    assert seen["wsgi.multiprocess"] is True
    assert seen["wsgi.run_once"] is False
    assert seen["wsgi.file_wrapper"] is FileWrapper
    assert seen["wsgi.input_terminated"] is True


def test_list_response_is_one_frame_with_end(master):
    r = run(master, lambda e, s: (s("200 OK", [("Content-Type", "text/plain")]), [b"Hello, ", b"World!"])[1])
    assert r.types == [P.RESPONSE]
    assert (r.status, r.headers, r.body, r.ended) == ("200 OK", [("Content-Type", "text/plain")], b"Hello, World!", True)


def test_generator_response_streams_chunk_by_chunk(master):
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"one"
        yield b""  # empty chunks are skipped
        yield b"two"

    r = run(master, app)
    assert r.types == [P.RESPONSE, P.RESPONSE_BODY, P.RESPONSE_BODY]
    assert r.body == b"onetwo" and r.ended


def test_close_called_exactly_once(master):
    body = Closing([b"a", b"b"])
    r = run(master, lambda e, s: (s("200 OK", []), body)[1])
    assert r.body == b"ab" and body.closed == 1


def test_close_called_once_when_iteration_fails(master):
    body = Closing([b"a", b"b"], fail_at=1)
    r = run(master, lambda e, s: (s("200 OK", []), body)[1])
    assert body.closed == 1
    assert "failed while iterating" in r.app_error


def test_close_called_once_when_the_client_went_away(master):
    body = Closing([b"a", b"b", b"c"])
    # The master's Abort frame is already waiting when the first chunk goes out.
    r = run(master, lambda e, s: (s("200 OK", []), body)[1], before=lambda: master.send(P.ABORT, 0, 1))
    assert body.closed == 1
    assert r.ended and r.body == b"a"


def test_app_exception_before_start_response_is_an_app_error(master):
    def app(environ, start_response):
        raise ValueError("broken view")

    r = run(master, app)
    assert r.status is None
    assert "ValueError: broken view" in r.app_error


def test_start_response_twice_without_exc_info_is_an_error(master):
    def app(environ, start_response):
        start_response("200 OK", [])
        start_response("500 Oops", [])
        return [b""]

    r = run(master, app)
    assert "start_response() called a second time" in r.app_error


def test_start_response_with_exc_info_before_anything_was_sent_replaces_the_head(master):
    def app(environ, start_response):
        start_response("200 OK", [("X-First", "1")])
        try:
            raise KeyError("x")
        except KeyError:
            start_response("500 Internal Server Error", [("X-Second", "1")], sys.exc_info())
        return [b"error page"]

    r = run(master, app)
    assert (r.status, r.headers, r.body) == ("500 Internal Server Error", [("X-Second", "1")], b"error page")


def test_start_response_with_exc_info_after_the_head_went_out_reraises(master):
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"partial"
        try:
            raise KeyError("late failure")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"

    r = run(master, app)
    assert r.status == "200 OK" and r.body == b"partial"
    assert "KeyError: 'late failure'" in r.app_error


def test_missing_start_response_is_an_error(master):
    r = run(master, lambda e, s: [b"x"])
    assert "without calling start_response()" in r.app_error


def test_str_body_is_an_error(master):
    r = run(master, lambda e, s: (s("200 OK", []), ["text, not bytes"])[1])
    assert "str, not bytes" in r.app_error


def test_write_callable_sends_at_once(master):
    def app(environ, start_response):
        write = start_response("200 OK", [])
        write(b"written ")
        return [b"returned"]

    r = run(master, app)
    assert r.types[0] == P.RESPONSE and r.body == b"written returned" and r.ended


def test_str_subclass_headers_are_accepted(master):
    class Safe(str):
        pass

    r = run(master, lambda e, s: (s(Safe("200 OK"), [(Safe("X-A"), Safe("b"))]), [b""])[1])
    assert (r.status, r.headers) == ("200 OK", [("X-A", "b")])


def test_input_read_readline_readlines_and_iteration(master):
    seen = {}

    def app(environ, start_response):
        inp = environ["wsgi.input"]
        seen["first"] = inp.readline()
        seen["two"] = inp.read(2)
        seen["rest_lines"] = inp.readlines()
        seen["eof"] = inp.read()
        start_response("200 OK", [])
        return [b""]

    def feed():
        master.body(1, b"wo\nthird line\nlast")
        master.body(1, b"", end=True)

    r = run(master, app, body=b"line one\nt", complete=False, before=feed)
    assert seen == {"first": b"line one\n", "two": b"tw", "rest_lines": [b"o\n", b"third line\n", b"last"], "eof": b""}


def test_input_pulls_the_body_from_the_master_when_it_needs_more(master):
    import threading

    got = []

    def app(environ, start_response):
        got.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b""]

    pulls = []

    def answer_pulls():
        # The master answers each BodyPull with one RequestBody frame.
        import socket
        sock = master.sock
        buf = b""
        for chunk, end in ((b"second", False), (b"", True)):
            while len(buf) < 10:
                buf += sock.recv(65536)
            length, ftype, flags, stream = __import__("workerkit").HEADER.unpack_from(buf)
            while len(buf) < 10 + length:
                buf += sock.recv(65536)
            pulls.append((ftype, stream, int.from_bytes(buf[10:14], "little")))
            buf = buf[10 + length:]
            master.body(1, chunk, end=end)

    t = threading.Thread(target=answer_pulls)
    t.start()
    master.conn.sock.settimeout(10)  # a broken answerer fails the test instead of hanging it
    handler = WsgiHandler(master.conn, app, CONFIG)
    master.request(1, base_environ(), b"first ", complete=False)
    master.conn.read_once(True)
    handler.handle(master.conn.pending.popleft())
    t.join(5)
    assert got == [b"first second"]
    assert [p[:2] for p in pulls] == [(P.BODY_PULL, 1), (P.BODY_PULL, 1)]
    assert pulls[0][2] > 0


def test_input_read_all_and_iterate(master):
    lines = []

    def app(environ, start_response):
        lines.extend(environ["wsgi.input"])
        start_response("200 OK", [])
        return [b""]

    run(master, app, body=b"a\nb\nc", complete=True)
    assert lines == [b"a\n", b"b\n", b"c"]


def test_input_read_with_size_across_chunks(master):
    got = []

    def app(environ, start_response):
        inp = environ["wsgi.input"]
        while True:
            chunk = inp.read(4)
            if not chunk:
                break
            got.append(chunk)
        start_response("200 OK", [])
        return [b""]

    def feed():
        master.body(1, b"cdefg")
        master.body(1, b"hij", end=True)

    run(master, app, body=b"ab", complete=False, before=feed)
    assert got == [b"abcd", b"efgh", b"ij"]


def test_errors_stream_reaches_the_log_tagged_with_the_request(master):
    def app(environ, start_response):
        environ["wsgi.errors"].write("first line\nsecond ")
        environ["wsgi.errors"].write("part\n")
        start_response("200 OK", [])
        return [b""]

    r = run(master, app)
    assert r.logs == ["first line", "second part"]


def test_file_wrapper_hands_the_file_to_the_master(master, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789")
    f = open(path, "rb")
    f.read(3)
    closed = []

    class Tracking(FileWrapper):
        pass

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        w = environ["wsgi.file_wrapper"](f)
        orig = w.close
        w.close = lambda: (closed.append(1), orig())
        return w

    def ack():
        master.send(P.FILE_ACK, 0, 1, b"\x01")

    frames_seen = []
    handler = WsgiHandler(master.conn, app, CONFIG)
    master.request(1, base_environ())
    ack()
    master.conn.read_once(True)
    handler.handle(master.conn.pending.popleft())
    frames_seen = master.frames()
    kinds = [t for t, _, _, _ in frames_seen]
    assert kinds == [P.RESPONSE_FILE]
    import marshal, struct
    payload = frames_seen[0][3]
    (hl,) = struct.unpack_from("<I", payload)
    fd, offset, count = marshal.loads(payload[4 + hl :])
    assert (offset, count) == (3, 7)
    assert closed == [1]
    assert f.closed


def test_file_wrapper_falls_back_to_sending_bytes_when_the_master_cannot_open_it(master, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"abcdef")

    def app(environ, start_response):
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](open(path, "rb"), 4)

    r = run(master, app, before=lambda: master.send(P.FILE_ACK, 0, 1, b"\x00"))
    assert r.body == b"abcdef" and r.ended
