"""A Flask app for the end-to-end tests: what Flask apps commonly do, through Werkzeug's own
request parsing, sessions, streaming and send_file (which uses wsgi.file_wrapper)."""

import os
import time

from flask import Flask, Response, abort, jsonify, redirect, request, send_file, session, stream_with_context, url_for

app = Flask(__name__)
app.secret_key = "lanner-tests-only"
DATA = os.environ.get("FLASK_DATA", __file__)  # the file /file sends


@app.get("/")
def index():
    return jsonify(
        path=request.path, args=request.args.to_dict(flat=False), url=request.url, remote=request.remote_addr,
        scheme=request.scheme, host=request.host, script_root=request.script_root, home=url_for("index", _external=True),
    )


@app.post("/form")
def form():
    upload = request.files.get("file")
    return jsonify(fields=request.form.to_dict(flat=False), file=upload.filename if upload else None,
                   size=len(upload.read()) if upload else 0)


@app.post("/json")
def json_body():
    data = request.get_json()
    return jsonify(received=data, length=request.content_length)


@app.get("/login/<name>")
def login(name):
    session["user"] = name
    return redirect(url_for("me"))


@app.get("/me")
def me():
    if "user" not in session:
        abort(403)
    return f"hello {session['user']}"


@app.get("/stream")
def stream():
    def ticks():
        for i in range(3):
            if i:
                time.sleep(0.5)
            yield f"tick {i} {request.path}\n"

    return Response(stream_with_context(ticks()), mimetype="text/plain")


@app.get("/file")
def file():
    return send_file(DATA, mimetype="application/octet-stream")


@app.get("/boom")
def boom():
    raise RuntimeError("the flask view failed on purpose")
