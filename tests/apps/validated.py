"""A WSGI app wrapped in wsgiref.validate.validator, which asserts PEP 3333 compliance of the
server on every call (environ keys and types, start_response, the input and errors streams).

Routes:
  /echo[...]      JSON: the environ's CGI keys, the body's length and sha256
  /upload         reads the body in 64 KiB read(n) calls: JSON length and sha256
  /lines          reads the body with readline(): JSON list of lines
  /stream?n=&gap= yields n chunks, sleeping gap seconds before each after the first
  /file?size=     returns wsgi.file_wrapper over a temporary file of that many bytes
  /head-size      a body of 1234 bytes with its Content-Length (for HEAD)
"""

import hashlib
import json
import os
import tempfile
import time
from urllib.parse import parse_qs
from wsgiref.validate import validator

CGI_KEYS = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
            "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "RAW_URI",
            "wsgi.url_scheme", "PROXY_PROTOCOL", "PROXY_ADDR", "PROXY_PORT", "SSL_CLIENT_VERIFY", "SSL_CLIENT_S_DN",
            "SSL_CLIENT_I_DN", "SSL_CLIENT_M_SERIAL", "SSL_CLIENT_CERT")


def _json(start_response, data, status="200 OK"):
    body = json.dumps(data).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _app(environ, start_response):
    path = environ["PATH_INFO"]
    query = parse_qs(environ["QUERY_STRING"])
    inp = environ["wsgi.input"]
    if path == "/upload":
        digest = hashlib.sha256()
        total = 0
        while True:
            chunk = inp.read(65536)
            if not chunk:
                break
            digest.update(chunk)
            total += len(chunk)
        return _json(start_response, {"length": total, "sha256": digest.hexdigest()})
    if path == "/lines":
        lines = []
        while True:
            line = inp.readline()
            if not line:
                break
            lines.append(line.decode("latin-1"))
        return _json(start_response, lines)
    if path == "/stream":
        n = int(query.get("n", ["3"])[0])
        gap = float(query.get("gap", ["0.5"])[0])
        start_response("200 OK", [("Content-Type", "text/plain")])

        def chunks():
            for i in range(n):
                if i:
                    time.sleep(gap)
                yield f"chunk {i} at {time.monotonic():.3f}\n".encode()

        return chunks()
    if path == "/file":
        size = int(query.get("size", ["100000"])[0])
        f = tempfile.TemporaryFile()
        f.write(bytes(i % 251 for i in range(size)))
        f.seek(0)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
        return environ["wsgi.file_wrapper"](f, 8192)
    if path == "/head-size":
        body = b"x" * 1234
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    # /echo and everything else (the validator wants read() with a size)
    body = b"".join(iter(lambda: inp.read(65536), b""))
    environ["wsgi.errors"].write(f"echo {path}\n")
    data = {k: environ[k] for k in CGI_KEYS if k in environ}
    data["headers"] = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    data["body_length"] = len(body)
    data["body_sha256"] = hashlib.sha256(body).hexdigest()
    data["pid"] = os.getpid()
    data["input_terminated"] = environ.get("wsgi.input_terminated")
    return _json(start_response, data)


app = validator(_app)
application = app
