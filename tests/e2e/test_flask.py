"""A real Flask app (Debian's python3-flask, which scripts/setup installs) served by the built
server: Werkzeug's request parsing of what the master sends, sessions, redirects, streaming,
send_file and error logging."""

import json
import os
import time
import uuid

import pytest


@pytest.fixture
def flask_server(lanner, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "data.bin").write_bytes(data)
    server = lanner(["-w", "2", "flask_app:app"], env={"FLASK_DATA": str(tmp_path / "data.bin")})
    return server, data


def test_request_facts_reach_flask(flask_server):
    server, _ = flask_server
    resp, body = server.request("GET", "/?a=1&a=2&b=%C3%A9", headers={"Host": f"example.test:{server.port}"})
    assert resp.status == 200 and resp.getheader("Content-Type") == "application/json"
    got = json.loads(body)
    assert got["args"] == {"a": ["1", "2"], "b": ["é"]}
    assert got["remote"] == "127.0.0.1" and got["scheme"] == "http" and got["script_root"] == ""
    assert got["host"] == f"example.test:{server.port}"
    assert got["home"] == f"http://example.test:{server.port}/"


def test_multipart_upload_and_json_body(flask_server):
    server, _ = flask_server
    boundary = uuid.uuid4().hex
    payload = os.urandom(200_000)
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    resp, data = server.request("POST", "/form", body=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert resp.status == 200, data
    assert json.loads(data) == {"fields": {"title": ["hello"]}, "file": "a.bin", "size": len(payload)}

    # The same JSON, once with Content-Length and once chunked.
    doc = json.dumps({"items": list(range(1000))}).encode()
    resp, data = server.request("POST", "/json", body=doc, headers={"Content-Type": "application/json"})
    assert resp.status == 200 and json.loads(data) == {"received": {"items": list(range(1000))}, "length": len(doc)}
    resp, data = server.request("POST", "/json", body=iter([doc[:100], doc[100:]]),
                                headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    assert resp.status == 200 and json.loads(data)["received"] == {"items": list(range(1000))}


def test_session_cookie_and_redirect(flask_server):
    server, _ = flask_server
    resp, _ = server.request("GET", "/me")
    assert resp.status == 403
    resp, _ = server.request("GET", "/login/ada")
    assert resp.status == 302 and resp.getheader("Location") == "/me"
    cookie = resp.getheader("Set-Cookie").split(";")[0]
    assert cookie.startswith("session=")
    resp, body = server.request("GET", "/me", headers={"Cookie": cookie})
    assert (resp.status, body) == (200, b"hello ada")


def test_a_streamed_response_arrives_as_flask_yields_it(flask_server):
    server, _ = flask_server
    conn = server.connect()
    conn.request("GET", "/stream")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    arrivals = []
    started = time.monotonic()
    for _ in range(3):
        arrivals.append((resp.readline(), time.monotonic() - started))
    conn.close()
    assert [line for line, _ in arrivals] == [b"tick 0 /stream\n", b"tick 1 /stream\n", b"tick 2 /stream\n"]
    assert arrivals[0][1] < 0.4, arrivals  # the first tick did not wait for the others
    assert arrivals[2][1] - arrivals[0][1] >= 0.9, arrivals


def test_send_file_serves_the_whole_file(flask_server):
    server, data = flask_server
    resp, body = server.request("GET", "/file")
    assert resp.status == 200
    assert resp.getheader("Content-Length") == str(len(data))
    assert body == data
    resp, body = server.request("HEAD", "/file")
    assert resp.status == 200 and resp.getheader("Content-Length") == str(len(data)) and body == b""


def test_an_exception_in_a_view_is_a_500_with_the_traceback_in_the_log(flask_server):
    server, _ = flask_server
    resp, body = server.request("GET", "/boom")
    assert resp.status == 500 and b"Internal Server Error" in body
    # Flask catches it and logs through wsgi.errors, which Lanner puts in its error log.
    server.wait_for(r"Exception on /boom \[GET\]")
    server.wait_for(r"RuntimeError: the flask view failed on purpose")
    assert server.request("GET", "/me")[0].status == 403  # the worker keeps serving
    resp, _ = server.request("GET", "/nowhere")
    assert resp.status == 404
