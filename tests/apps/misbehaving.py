"""An app that misbehaves on purpose, one way per path (for the error-handling tests).

  /ok               200, with the worker's pid
  /raise            raises inside the view
  /raise-late       raises after the first streamed chunk
  /bad-status       start_response("OK", ...)
  /bad-header       a header value with CR LF (response splitting attempt)
  /bad-header-name  a header name with a space
  /int-header       a header value that is an int
  /hop              sets hop-by-hop headers (Transfer-Encoding, Connection: close)
  /long             says Content-Length 5, sends 10 bytes
  /short            says Content-Length 10, sends 3 bytes (one list)
  /short-stream     says Content-Length 10, streams 3 bytes from a generator
  /no-content       204 with a Content-Length and a body
  /reset-content    205 with a body
  /interim          a 1xx status as the final response
  /exit             the worker process exits mid-request (os._exit)
  /segfault         the worker crashes with SIGSEGV mid-request
  /sleep?s=         sleeps, then 200
  /spin             loops forever in pure Python, holding the GIL (spin_forever)
  /ignore-term      ignores SIGTERM from now on, then loops forever
  /leak?mb=         keeps N more megabytes alive in this worker, then 200 with the total
  /print?n=         prints n lines to stdout and n to stderr
"""

import signal
import sys

import ctypes
import os
import time
from urllib.parse import parse_qs


_LEAKED = []


def spin_forever():
    n = 0
    while True:
        n += 1


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/ok":
        body = str(os.getpid()).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/raise":
        raise RuntimeError("the view failed on purpose")
    if path == "/raise-late":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def chunks():
            yield b"first chunk\n"
            raise RuntimeError("failed after streaming started")

        return chunks()
    if path == "/bad-status":
        start_response("OK", [])
        return [b"x"]
    if path == "/bad-header":
        start_response("200 OK", [("X-Test", "a\r\nSet-Cookie: injected=1")])
        return [b"x"]
    if path == "/bad-header-name":
        start_response("200 OK", [("Bad Name", "v")])
        return [b"x"]
    if path == "/int-header":
        start_response("200 OK", [("X-Count", 3)])
        return [b"x"]
    if path == "/hop":
        start_response("200 OK", [("Transfer-Encoding", "chunked"), ("Connection", "close"), ("X-Kept", "yes")])
        return [b"hop"]
    if path == "/long":
        start_response("200 OK", [("Content-Length", "5")])
        return [b"0123456789"]
    if path == "/short":
        start_response("200 OK", [("Content-Length", "10")])
        return [b"abc"]
    if path == "/short-stream":
        start_response("200 OK", [("Content-Length", "10")])
        return (chunk for chunk in [b"ab", b"c"])
    if path == "/no-content":
        start_response("204 No Content", [("Content-Length", "5"), ("X-Kept", "yes")])
        return [b"hello"]
    if path == "/reset-content":
        start_response("205 Reset Content", [])
        return [b"x"]
    if path == "/interim":
        start_response("101 Switching Protocols", [("Upgrade", "websocket")])
        return []
    if path == "/exit":
        os._exit(7)
    if path == "/segfault":
        ctypes.string_at(0)
    if path == "/sleep":
        time.sleep(float(parse_qs(environ["QUERY_STRING"]).get("s", ["1"])[0]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slept"]
    if path == "/spin":
        spin_forever()
    if path == "/ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        spin_forever()
    if path == "/leak":
        mb = int(parse_qs(environ["QUERY_STRING"]).get("mb", ["10"])[0])
        _LEAKED.append(bytearray(mb * 1024 * 1024))
        body = str(sum(len(b) for b in _LEAKED) // (1024 * 1024)).encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]
    if path == "/print":
        n = int(parse_qs(environ["QUERY_STRING"]).get("n", ["3"])[0])
        for i in range(n):
            print(f"stdout line {i}")
            print(f"stderr line {i}", file=sys.stderr)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"printed"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


application = app
