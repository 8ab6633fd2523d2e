"""Shows what a worker sees, for the configuration tests.

  /env?name=A&name=B   JSON: {"pid": the worker's pid, "env": {A: os.environ.get(A), ...}}
  anything else        404
"""

import json
import os
from urllib.parse import parse_qs


def app(environ, start_response):
    if environ["PATH_INFO"] != "/env":
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]
    names = parse_qs(environ["QUERY_STRING"]).get("name", [])
    body = json.dumps({"pid": os.getpid(), "env": {n: os.environ.get(n) for n in names}}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


application = app
