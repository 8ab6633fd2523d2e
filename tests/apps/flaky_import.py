"""Loads fine until the file named by $LANNER_TEST_FAIL_MARKER exists; then every new worker
fails to import it (a deploy that broke after the server started)."""

import os

if os.path.exists(os.environ.get("LANNER_TEST_FAIL_MARKER", "/nonexistent")):
    raise RuntimeError("the marker file exists: this import fails on purpose")


def application(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
