"""A WSGI app for the access-log tests: status codes, response headers, body sizes and echoes.

Routes (by PATH_INFO):
  /missing          404, 9-byte body
  /error            500, 21-byte body
  /chunked          200 without Content-Length, the body in three pieces (gunicorn chunks it)
  /empty            204, no body
  /environ?NAME     200, the body is environ[NAME] (or "<unset>"), as UTF-8 text
  POST anything     201, the body is the length of the request body
  anything else     200, "Hello, World!" with a response header containing quotes
"""


def app(environ, start_response):
    path = environ["PATH_INFO"]
    method = environ["REQUEST_METHOD"]
    environ["access_log_app.seen"] = "yes"  # gunicorn's {variable}e sees what the app adds
    if path == "/raise":
        raise RuntimeError("the app failed")
    if path == "/missing":
        body = b"not found"
        status = "404 Not Found"
    elif path == "/error":
        body = b"internal server error"
        status = "500 Internal Server Error"
    elif path == "/chunked":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-App", "chunked")])
        return [b"one,", b"two,", b"three"]
    elif path == "/empty":
        start_response("204 No Content", [("X-App", "empty")])
        return []
    elif path == "/environ":
        value = environ.get(environ["QUERY_STRING"])
        body = ("<unset>" if value is None else str(value)).encode("utf-8", "surrogateescape")
        status = "200 OK"
    elif method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = str(len(environ["wsgi.input"].read(length))).encode()
        status = "201 Created"
    else:
        body = b"Hello, World!"
        status = "200 OK"
    start_response(status, [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("X-App", 'say "hi"'),
    ])
    return [body]


application = app
