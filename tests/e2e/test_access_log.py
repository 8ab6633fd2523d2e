"""The access log, end to end: Lanner's lines against gunicorn's own for the same requests.

Both servers run the same app (tests/apps/access_log_app.py) with the same --access-logformat and
get the same raw requests, each on its own connection with "Connection: close" and read to the
end, so the line of one request is written before the next request starts. The lines are
compared after masking only what legitimately differs run to run (the time atoms t T D M L, the
pids p, the remote ports); every other difference is declared in ``differences()`` with the
reason, and asserted value by value.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from serverkit import APPS, LANNER, Server

GUNICORN_PYTHON = "/usr/bin/python3"  # Debian's, with Debian's gunicorn 20.1
APP = "access_log_app:app"

CLF_TIME = re.compile(r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")
GENERATED_ID = re.compile(r"[0-9a-f]{9,}")  # FrontDoor.RequestId: 8 hex digits of prefix, then a hex counter


# ---------------------------------------------------------------------------------------------
# helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn():
    """gunicorn from Debian, one sync worker, in its own process group; killed afterwards."""
    started: list[Server] = []

    def start(args: list[str], cwd: Path = APPS, bind: str | None = None) -> Server:
        # LC_ALL: gunicorn's logging writes the file in the locale's encoding.
        g = Server(["-w", "1", *args], cwd, env={"LC_ALL": "C.UTF-8", "PYTHONPATH": ""},
                   bind=bind or f"127.0.0.1:{free_port()}", command=[GUNICORN_PYTHON, "-m", "gunicorn"])
        started.append(g)
        return g.started()

    yield start
    for g in started:
        g.kill()


def connect(address: int | str, timeout: float) -> socket.socket:
    if isinstance(address, str):  # a Unix socket's path
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(address)
        return s
    return socket.create_connection(("127.0.0.1", address), timeout=timeout)


def send(address: int | str, request: bytes, timeout: float = 30.0) -> bytes:
    """Sends one raw request on its own connection; reads the response until the server closes."""
    with connect(address, timeout) as s:
        s.sendall(request)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]


def read_lines(path: Path, count: int, timeout: float = 15.0) -> list[str]:
    """Polls the file (written by a background writer) until it holds ``count`` whole lines, and no more."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_bytes().decode("utf-8") if path.exists() else ""
        lines = text.split("\n")[:-1]  # not splitlines(), which also splits on \x1e, \x85, ...
        if len(lines) >= count and text.endswith("\n"):
            assert len(lines) == count, f"expected {count} lines in {path}, got:\n{text}"
            return lines
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} lines in {path} within {timeout}s, got:\n{text}")
        time.sleep(0.02)


def req(method: str, target: str, headers: list[tuple[str, str]] = (), body: bytes = b"",
        version: str = "HTTP/1.1", host: bool = True) -> bytes:
    """A raw request; header values are str of latin-1 characters (one per byte on the wire)."""
    lines = [f"{method} {target} {version}"]
    if host:
        lines.append("Host: localhost")
    lines += [f"{name}: {value}" for name, value in headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    if version == "HTTP/1.1":
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# The same requests for both servers: (name, raw request, expected status).
REQUESTS = [
    ("get with a query", req("GET", "/?a=1&b=two%20words&c"), 200),
    ("post with a body", req("POST", "/submit?x=1", [("Content-Type", "application/x-www-form-urlencoded")],
                             b"name=value&other=%C3%A9"), 201),
    # gunicorn 20.1 sends the 13-byte body even on HEAD and logs 13; Lanner sends none (RFC 9110)
    # but logs what the app produced, so the lines agree.
    ("head", req("HEAD", "/"), 200),
    ("404", req("GET", "/missing"), 404),
    ("500 from the app", req("GET", "/error?why=because"), 500),
    ("referer, user agent and custom headers",
     req("GET", "/page", [("Referer", 'http://example.com/from?x="q"'),
                          ("User-Agent", 'Mozilla/5.0 (X11; Linux) "quoted" back\\slash'),
                          ("X-Custom", "custom value")]), 200),
    ("percent-encoded UTF-8 path", req("GET", "/caf%C3%A9/%E2%9C%93%22?q=%C3%A9&r=%22&s=\"x\""), 200),
    ("UTF-8 bytes in a header", req("GET", "/latin", [("X-Custom", "caf\u00c3\u00a9 \t\x01ctl")]), 200),
    ("basic auth user", req("GET", "/auth", [("Authorization", "Basic dXNlcjpwYXNz")]), 200),
    ("HTTP/1.0 without Host", req("GET", "/old?v=1.0", version="HTTP/1.0", host=False), 200),
    ("chunked response", req("GET", "/chunked"), 200),
    ("204 without a body", req("GET", "/empty"), 204),
    ("absolute-form target", req("GET", "http://example.com/abs?x=1", [("Host", "example.com")], host=False), 200),
    ("repeated headers", req("GET", "/repeated", [("X-Custom", "a"), ("X-Custom", "b"), ("Cookie", "c=1"),
                                                  ("Cookie", "d=2")]), 200),
    ("the app raises", req("GET", "/raise?x=1", [("X-Custom", "boom")]), 500),
]


class Row(NamedTuple):
    name: str
    ours: str  # Lanner's line
    theirs: str  # gunicorn's line
    response: bytes  # Lanner's response
    their_response: bytes  # gunicorn's


class Run(NamedTuple):
    rows: list[Row]
    lanner_port: int
    gunicorn_port: int
    worker_pids: list[int]


def run_both(lanner, gunicorn, tmp_path: Path, fmt: str | None) -> Run:
    """Starts both servers with the format (None: the default), sends REQUESTS to each, returns the lines."""
    extra = [] if fmt is None else ["--access-logformat", fmt]
    lanner_log, gunicorn_log = tmp_path / "lanner.log", tmp_path / "gunicorn.log"
    server = lanner(["-w", "1", "--access-logfile", str(lanner_log), *extra, APP])
    g = gunicorn(["--access-logfile", str(gunicorn_log), *extra, APP])
    responses = []
    for name, raw, expected in REQUESTS:
        ours, theirs = send(server.port, raw), send(g.port, raw)
        assert status_of(ours) == expected, (name, ours[:300])
        assert status_of(theirs) == expected, (name, theirs[:300])
        responses.append((ours, theirs))
    ours_lines = read_lines(lanner_log, len(REQUESTS))
    theirs_lines = read_lines(gunicorn_log, len(REQUESTS))
    rows = [Row(name, o, t, *r) for (name, _, _), o, t, r in zip(REQUESTS, ours_lines, theirs_lines, responses)]
    return Run(rows, server.port, g.port, server.worker_pids())


# ---------------------------------------------------------------------------------------------
# 1. the same lines as gunicorn's


def test_default_format_matches_gunicorn(lanner, gunicorn, tmp_path):
    run = run_both(lanner, gunicorn, tmp_path, None)  # no --access-logformat on either side
    assert len(run.rows) == len(REQUESTS)
    for row in run.rows:
        assert CLF_TIME.search(row.ours) and CLF_TIME.search(row.theirs), row
        ours, theirs = CLF_TIME.sub("[TIME]", row.ours), CLF_TIME.sub("[TIME]", row.theirs)
        if row.name == "the app raises":
            # gunicorn logs its own error page as 0 bytes sent; Lanner logs the page it sent.
            sent = len(body_of(row.response))
            assert sent > 0
            assert theirs.endswith(' 500 0 "-" "-"'), theirs
            ours, theirs = ours.replace(f" 500 {sent} ", " 500 <sent> "), theirs.replace(" 500 0 ", " 500 <sent> ")
        assert ours == theirs, row.name
        if row.name == "head":
            # The comment at REQUESTS: the same b, but only gunicorn sent the body.
            assert body_of(row.response) == b"" and body_of(row.their_response) == b"Hello, World!"
    # A few lines in full, so that "equal" cannot mean "equally wrong".
    lines = {row.name: CLF_TIME.sub("[TIME]", row.ours) for row in run.rows}
    assert lines["get with a query"] == '127.0.0.1 - - [TIME] "GET /?a=1&b=two%20words&c HTTP/1.1" 200 13 "-" "-"'
    assert lines["post with a body"] == '127.0.0.1 - - [TIME] "POST /submit?x=1 HTTP/1.1" 201 2 "-" "-"'
    assert lines["404"] == '127.0.0.1 - - [TIME] "GET /missing HTTP/1.1" 404 9 "-" "-"'
    assert lines["referer, user agent and custom headers"] == (
        '127.0.0.1 - - [TIME] "GET /page HTTP/1.1" 200 13 "http://example.com/from?x=\\"q\\"" '
        '"Mozilla/5.0 (X11; Linux) \\"quoted\\" back\\slash"')
    assert lines["basic auth user"] == '127.0.0.1 - user [TIME] "GET /auth HTTP/1.1" 200 13 "-" "-"'
    assert lines["HTTP/1.0 without Host"] == '127.0.0.1 - - [TIME] "GET /old?v=1.0 HTTP/1.0" 200 13 "-" "-"'
    assert lines["204 without a body"] == '127.0.0.1 - - [TIME] "GET /empty HTTP/1.1" 204 0 "-" "-"'


# Every code gunicorn knows, labelled and separated by \x1e (values hold tabs), so a line parses into a dict.
SEPARATOR = "\x1e"
ATOMS = ["h", "l", "u", "t", "r", "m", "U", "q", "H", "s", "B", "b", "f", "a", "T", "M", "D", "L", "p",
         "{x-custom}i", "{X-Missing}i", "{authorization}i", "{cookie}i", "{x-request-id}i",
         "{content-type}o", "{X-App}o", "{content-length}o", "{x-missing}o", "{date}o", "{server}o",
         "{connection}o", "{transfer-encoding}o",
         "{REMOTE_ADDR}e", "{REMOTE_PORT}e", "{request_method}e", "{PATH_INFO}e", "{QUERY_STRING}e", "{RAW_URI}e",
         "{SERVER_PROTOCOL}e", "{SCRIPT_NAME}e", "{wsgi.url_scheme}e", "{HTTP_X_CUSTOM}e", "{HTTP_COOKIE}e",
         "{CONTENT_TYPE}e", "{CONTENT_LENGTH}e", "{HTTP_HOST}e", "{SERVER_NAME}e", "{SERVER_PORT}e",
         "{SERVER_SOFTWARE}e", "{access_log_app.seen}e", "{NOT_IN_ENVIRON}e"]
ALL_FORMAT = SEPARATOR.join(f"{atom}=%({atom})s" for atom in ATOMS)

# Python's conversion specs and "%%", which gunicorn gets from the % operator.
SPECS = {"m.2s": "%(m).2s", "B05d": "%(B)05d", "s-5s": "%(s)-5s", "b8s": "%(b)8s", "H.6s": "%(H)10.6s",
         "Ur": "%(U)r", "fr": "%(f)r", "ar": "%(a)r", "xr": "%({x-custom}i)r", "Td": "%(T)+d", "T.3f": "%(T).3f",
         "pct": "100%%(h)s %%"}
SPEC_FORMAT = SEPARATOR.join(f"{label}={spec}" for label, spec in SPECS.items())

MASKED = {"t", "T", "D", "M", "L", "p", "{REMOTE_PORT}e", "Td", "T.3f"}


def parse(line: str, labels: list[str]) -> dict[str, str]:
    parsed = dict(field.split("=", 1) for field in line.split(SEPARATOR))
    assert list(parsed) == labels, line
    return parsed


def differences(run: Run, row: Row, ours: dict) -> dict[str, tuple[str, str]]:
    """The atoms in which Lanner's line legitimately differs from gunicorn's: atom -> (Lanner, gunicorn)."""
    diff = {
        # Each server names itself.
        "{SERVER_SOFTWARE}e": ("lanner", "gunicorn/20.1.0"),
        # Lanner's environ takes SERVER_NAME/PORT from the Host header (EnvironWriter.SplitHost, as
        # PEP 3333 allows), gunicorn's from the listening socket; without a Host both use the socket.
        "{SERVER_NAME}e": ("localhost", "127.0.0.1"),
        "{SERVER_PORT}e": ("80", str(run.gunicorn_port)),
        # The environ of a Lanner app lives in the worker process: what the app adds to it is not
        # known to the master, which writes the log.
        "{access_log_app.seen}e": ("-", "yes"),
    }
    if row.name == "HTTP/1.0 without Host":  # each its own address
        diff["{SERVER_NAME}e"] = ("127.0.0.1", "127.0.0.1")
        diff["{SERVER_PORT}e"] = (str(run.lanner_port), str(run.gunicorn_port))
    if row.name == "absolute-form target":
        diff["{SERVER_NAME}e"] = ("example.com", "127.0.0.1")
    if row.name == "chunked response":
        # The app gave no Content-Length. gunicorn chunks the body; Lanner had all of it before it
        # sent the head, so it sent (and logs) a Content-Length instead.
        diff["{content-length}o"] = ("13", "-")
    if row.name == "repeated headers":
        # {header}i: gunicorn builds a dict of the headers, so the last of a repeated one wins;
        # Lanner logs every value.
        diff["{x-custom}i"] = ("a,b", "b")
        diff["{cookie}i"] = ("c=1,d=2", "d=2")
        # {variable}e is the environ the app saw: Lanner's joins repeated fields with ", " ("; " for
        # Cookie, RFC 6265), gunicorn's with ",".
        diff["{HTTP_X_CUSTOM}e"] = ("a, b", "a,b")
        diff["{HTTP_COOKIE}e"] = ("c=1; d=2", "c=1,d=2")
    if row.name == "the app raises":
        # gunicorn logs its error page with a fresh environ (no PATH_INFO, headers or SERVER_*) and
        # 0 bytes; Lanner logs the request as it came and the 500 page it sent.
        sent = str(len(body_of(row.response)))
        diff.update({
            "U": ("/raise", "None"), "B": (sent, "0"), "b": (sent, "0"),
            "{content-type}o": ("text/html; charset=utf-8", "-"), "{content-length}o": (sent, "-"),
            "{date}o": (ours["{date}o"], "-"), "{connection}o": ("close", "-"),  # set on Lanner's error page
            "{PATH_INFO}e": ("/raise", "-"), "{SCRIPT_NAME}e": ("", "-"), "{wsgi.url_scheme}e": ("http", "-"),
            "{HTTP_X_CUSTOM}e": ("boom", "-"), "{HTTP_HOST}e": ("localhost", "-"),
            "{SERVER_NAME}e": ("localhost", "-"), "{SERVER_PORT}e": ("80", "-"),
            "{access_log_app.seen}e": ("-", "-"),
        })
        assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", ours["{date}o"]), ours
    # gunicorn never sees Lanner's X-Request-ID, which the app gets as a request header.
    assert GENERATED_ID.fullmatch(ours["{x-request-id}i"]), ours
    diff["{x-request-id}i"] = (ours["{x-request-id}i"], "-")
    return diff


def test_every_code_matches_gunicorn(lanner, gunicorn, tmp_path):
    run = run_both(lanner, gunicorn, tmp_path, ALL_FORMAT)
    assert len(run.rows) == len(REQUESTS)
    for row in run.rows:
        ours, theirs = parse(row.ours, ATOMS), parse(row.theirs, ATOMS)
        for atoms in (ours, theirs):
            # Time atoms differ run to run: check their shapes and that they agree with each other.
            assert CLF_TIME.fullmatch(atoms["t"]), (row.name, atoms["t"])
            assert re.fullmatch(r"<\d+>", atoms["p"]), (row.name, atoms["p"])
            assert re.fullmatch(r"\d+", atoms["{REMOTE_PORT}e"]), (row.name, atoms)
            for atom in ("T", "M", "D"):
                assert re.fullmatch(r"\d+", atoms[atom]), (row.name, atom, atoms[atom])
            d = int(atoms["D"])
            assert atoms["L"] == f"{d // 1_000_000}.{d % 1_000_000:06d}", (row.name, atoms)
            assert int(atoms["M"]) == d // 1000 and int(atoms["T"]) == d // 1_000_000, (row.name, atoms)
        # p is the pid of the worker that ran the request (gunicorn's os.getpid() in its worker).
        assert int(ours["p"][1:-1]) in run.worker_pids, (ours["p"], run.worker_pids)
        for atom, (expected_ours, expected_theirs) in differences(run, row, ours).items():
            assert (ours[atom], theirs[atom]) == (expected_ours, expected_theirs), (row.name, atom)
            ours[atom] = theirs[atom] = "<differs>"
        for atom in MASKED:
            ours[atom] = theirs[atom] = "<masked>"
        assert ours == theirs, row.name

    # The values themselves, for a few requests (equal could still mean equally wrong).
    by_name = {row.name: parse(row.ours, ATOMS) for row in run.rows}
    post = by_name["post with a body"]
    assert (post["m"], post["U"], post["q"], post["H"], post["s"], post["B"], post["b"]) == (
        "POST", "/submit", "x=1", "HTTP/1.1", "201", "2", "2")
    assert (post["{CONTENT_TYPE}e"], post["{CONTENT_LENGTH}e"]) == ("application/x-www-form-urlencoded", "23")
    page = by_name["referer, user agent and custom headers"]
    assert page["{x-custom}i"] == page["{HTTP_X_CUSTOM}e"] == "custom value"
    assert (page["{content-type}o"], page["{X-App}o"], page["{x-missing}o"]) == (
        "text/plain; charset=utf-8", 'say \\"hi\\"', "-")
    utf8 = by_name["percent-encoded UTF-8 path"]
    # PATH_INFO is the decoded path's bytes read as latin-1 (PEP 3333), written out as UTF-8.
    assert utf8["U"] == utf8["{PATH_INFO}e"] == "/caf\u00c3\u00a9/\u00e2\u009c\u0093\\\""
    assert utf8["q"] == 'q=%C3%A9&r=%22&s=\\"x\\"'
    assert by_name["UTF-8 bytes in a header"]["{x-custom}i"] == "caf\u00c3\u00a9 \t\x01ctl"
    assert by_name["basic auth user"]["u"] == "user"
    assert by_name["basic auth user"]["{authorization}i"] == "Basic dXNlcjpwYXNz"
    assert by_name["HTTP/1.0 without Host"]["{HTTP_HOST}e"] == "-"
    assert by_name["absolute-form target"]["r"] == "GET http://example.com/abs?x=1 HTTP/1.1"
    assert by_name["absolute-form target"]["U"] == "/abs"
    assert by_name["get with a query"]["{NOT_IN_ENVIRON}e"] == by_name["get with a query"]["{X-Missing}i"] == "-"


def test_conversion_specs_match_gunicorn(lanner, gunicorn, tmp_path):
    labels = list(SPECS)
    run = run_both(lanner, gunicorn, tmp_path, SPEC_FORMAT)
    for row in run.rows:
        ours, theirs = parse(row.ours, labels), parse(row.theirs, labels)
        assert re.fullmatch(r"\+\d+", ours["Td"]) and re.fullmatch(r"\d+\.000", ours["T.3f"]), ours
        if row.name == "the app raises":
            # As above: gunicorn's error line has no PATH_INFO (None) and 0 bytes.
            sent = len(body_of(row.response))
            assert (ours["Ur"], theirs["Ur"]) == ("'/raise'", "None")
            assert (ours["B05d"], theirs["B05d"]) == (f"{sent:05d}", "00000")
            assert (ours["b8s"], theirs["b8s"]) == (f"{sent:8d}", "       0")
            for label in ("Ur", "B05d", "b8s"):
                ours[label] = theirs[label] = "<differs>"
        if row.name == "repeated headers":
            assert (ours["xr"], theirs["xr"]) == ("'a,b'", "'b'")  # every value vs the last one, as above
            ours["xr"] = theirs["xr"] = "<differs>"
        for label in MASKED & set(labels):
            ours[label] = theirs[label] = "<masked>"
        assert ours == theirs, row.name
    first = parse(run.rows[0].ours, labels)
    assert (first["m.2s"], first["B05d"], first["s-5s"], first["b8s"], first["H.6s"]) == (
        "GE", "00013", "200  ", "      13", "    HTTP/1")
    assert (first["Ur"], first["fr"], first["pct"]) == ("'/'", "'-'", "100%(h)s %")
    quoted = parse(next(row.ours for row in run.rows if row.name == "referer, user agent and custom headers"), labels)
    assert quoted["ar"] == "'Mozilla/5.0 (X11; Linux) \\\\\"quoted\\\\\" back\\\\slash'"


def test_unix_socket_matches_gunicorn_but_for_the_empty_address(lanner, gunicorn, tmp_path):
    lanner_log, gunicorn_log = tmp_path / "lanner.log", tmp_path / "gunicorn.log"
    lanner_sock, gunicorn_sock = str(tmp_path / "lanner.sock"), str(tmp_path / "gunicorn.sock")
    fmt = '%(h)s %(l)s %(u)s "%(r)s" %(s)s %(b)s %({REMOTE_ADDR}e)s|%({SERVER_NAME}e)s|%({SERVER_PORT}e)s|'
    server = lanner(["-w", "1", "--access-logfile", str(lanner_log), "--access-logformat", fmt, APP],
                    bind=f"unix:{lanner_sock}", wait=False)
    server.wait_for(r"Listening at: unix:")
    gunicorn(["--access-logfile", str(gunicorn_log), "--access-logformat", fmt, APP], bind=f"unix:{gunicorn_sock}")
    request = req("GET", "/u", [("Host", "example.org:8080")], host=False)
    for sock in (lanner_sock, gunicorn_sock):
        assert status_of(send(sock, request)) == 200
    ours, theirs = read_lines(lanner_log, 1)[0], read_lines(gunicorn_log, 1)[0]
    # A Unix socket has no peer address: both environs have REMOTE_ADDR "", but gunicorn's h is
    # that empty string, while Lanner writes '-' so that the first field is never empty (parsers
    # split the line on spaces).
    assert theirs == ' - - "GET /u HTTP/1.1" 200 13 |example.org|8080|'
    assert ours == '- - - "GET /u HTTP/1.1" 200 13 |example.org|8080|'


# ---------------------------------------------------------------------------------------------
# 2. json


def test_json_format(lanner, tmp_path):
    log = tmp_path / "access.jsonl"
    server = lanner(["-w", "1", "--access-logfile", str(log), "--access-logformat", "json", APP])
    # Bytes on the wire: the path percent-encodes a quote, a backslash, a control character, a tab
    # and UTF-8; the headers carry quotes, backslashes, control characters and raw UTF-8 bytes.
    tricky_path = "/q%22uote%5Cback%01ctl%09tab/caf%C3%A9%E2%9C%93"
    referer = 'http://example.com/?a="b"&c=\\d'
    user_agent = "caf\u00c3\u00a9 \u00e2\u009c\u0093 \t\x01\x7f end"  # the UTF-8 bytes of "café ✓", as latin-1
    requests = [
        req("GET", tricky_path + '?x=%22&y="z"', [("Referer", referer), ("User-Agent", user_agent)]),
        req("POST", "/submit", [("Content-Type", "text/plain")], b"0123456789"),
        req("GET", "/missing", [("X-Request-ID", "abc-123")]),
        req("HEAD", "/", version="HTTP/1.0", host=False),
        req("GET", "/raise"),
    ]
    before = datetime.datetime.now(datetime.timezone.utc)
    responses = [send(server.port, raw) for raw in requests]
    assert [status_of(r) for r in responses] == [200, 201, 404, 200, 500]
    lines = read_lines(log, len(requests))
    after = datetime.datetime.now(datetime.timezone.utc)

    records = [json.loads(line) for line in lines]
    for line, record in zip(lines, records):
        assert set(record) == {"time", "remote_addr", "method", "path", "query", "protocol", "status", "bytes",
                               "duration_ms", "referer", "user_agent", "request_id", "pid"}, record
        assert all(ord(c) >= 0x20 for c in line), line  # control characters are escaped
        assert record["remote_addr"] == "127.0.0.1"
        assert before - datetime.timedelta(seconds=1) <= datetime.datetime.fromisoformat(record["time"]) <= after
        assert isinstance(record["duration_ms"], (int, float)) and 0 <= record["duration_ms"] < 30_000
        assert record["pid"] in server.worker_pids()
        assert GENERATED_ID.fullmatch(record["request_id"]) or record["request_id"] == "abc-123"

    tricky, post, missing, head, raised = records
    # The path decoded and read as UTF-8, the query raw, the headers read as UTF-8: what the client sent.
    assert tricky["path"] == '/q"uote\\back\x01ctl\ttab/caf\u00e9\u2713'
    assert tricky["query"] == 'x=%22&y="z"'
    assert tricky["referer"] == referer
    assert tricky["user_agent"] == "caf\u00e9 \u2713 \t\x01\x7f end"
    assert "caf\u00e9\u2713" in lines[0]  # non-ASCII stays readable
    assert (tricky["method"], tricky["protocol"], tricky["status"], tricky["bytes"]) == ("GET", "HTTP/1.1", 200, 13)
    assert (post["method"], post["path"], post["query"], post["status"], post["bytes"]) == ("POST", "/submit", "", 201, 2)
    assert post["referer"] is None and post["user_agent"] is None  # no such header: null, not '-'
    assert (missing["status"], missing["bytes"], missing["request_id"]) == (404, 9, "abc-123")
    assert (head["method"], head["protocol"], head["status"], head["bytes"]) == ("HEAD", "HTTP/1.0", 200, 13)
    assert (raised["status"], raised["bytes"], raised["path"]) == (500, len(body_of(responses[4])), "/raise")


def test_requests_refused_before_the_app_get_a_line_each(lanner, tmp_path):
    """Kestrel answers a malformed request itself, before the request delegate: like nginx's 400s,
    each still gets one line, with what was parsed of it ('-' when the request line was refused),
    its status and no body bytes. A body refused while the app reads it gets one line, not two."""
    log = tmp_path / "access.log"
    server = lanner(["-w", "1", "--access-logfile", str(log), APP])
    cases = [
        (b"GARBAGE\r\n\r\n", 400, '"- - -" 400 0'),
        (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, '"- - -" 414 0'),
        (b"GET /bad-header HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400, '"GET /bad-header HTTP/1.1" 400 0'),
        (b"GET /big-header HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40000 + b"\r\n\r\n", 431, '"GET /big-header HTTP/1.1" 431 0'),
        (req("POST", "/submit", [("Transfer-Encoding", "chunked")], b"zz\r\n"), 400, '"POST /submit HTTP/1.1" 400 0'),
        (req("GET", "/"), 200, '"GET / HTTP/1.1" 200 13'),
    ]
    for raw, status, _ in cases:
        assert status_of(send(server.port, raw)) == status
    lines = read_lines(log, len(cases))
    for line, (_, _, expected) in zip(lines, cases):
        assert line.startswith("127.0.0.1 - - ["), line
        assert expected in line, (line, expected)


def test_a_client_gone_before_the_response_is_a_499_with_no_bytes(lanner, tmp_path):
    """nginx's 499: the client left (a reset, or a FIN, which Kestrel takes as one) before any
    of the response went out, so the log does not claim the app's status and bytes."""
    log = tmp_path / "access.log"
    server = lanner(["-w", "1", "--access-logfile", str(log), "misbehaving"])

    def reset(s: socket.socket) -> None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    half = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    half.sendall(b"GET /sleep?s=0.3 HTTP/1.1\r\nHost: x\r\n\r\n")
    half.shutdown(socket.SHUT_WR)
    assert half.recv(100) == b""  # Kestrel closes a half-closed connection without answering
    half.close()
    read_lines(log, 1)  # before the next request, so that the lines come in this order

    running = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    running.sendall(b"GET /sleep?s=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)  # at the worker by now, which is busy for a second: the next one waits
    queued = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    queued.sendall(b"GET /ok?queued HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    reset(queued)
    read_lines(log, 2)
    reset(running)
    read_lines(log, 3)
    assert server.request("GET", "/ok")[0].status == 200

    lines = read_lines(log, 4)
    expected = ['"GET /sleep?s=0.3 HTTP/1.1" 499 0 ', '"GET /ok?queued HTTP/1.1" 499 0 ',
                '"GET /sleep?s=1 HTTP/1.1" 499 0 ', '"GET /ok HTTP/1.1" 200 ']
    for line, part in zip(lines, expected):
        assert part in line, (line, part)


# ---------------------------------------------------------------------------------------------
# 3. X-Request-ID


def test_request_id_is_logged_and_seen_by_the_app(lanner, tmp_path):
    log = tmp_path / "access.jsonl"
    server = lanner(["-w", "1", "--access-logfile", str(log), "--access-logformat", "json", APP])
    target = "/environ?HTTP_X_REQUEST_ID"
    cases = [
        [("X-Request-ID", "abc-123")],  # kept
        [],  # generated
        [],  # generated, another one
        [("X-Request-ID", "not a sensible id")],  # spaces: replaced by a generated one
        [("X-Request-ID", "x" * 201)],  # too long: replaced
    ]
    seen = []
    for headers in cases:
        response = send(server.port, req("GET", target, headers))
        assert status_of(response) == 200
        seen.append(body_of(response).decode())
    logged = [json.loads(line)["request_id"] for line in read_lines(log, len(cases))]

    assert seen == logged  # the app's HTTP_X_REQUEST_ID is the logged id, every time
    assert seen[0] == "abc-123"
    for generated in seen[1:]:
        assert GENERATED_ID.fullmatch(generated), generated
    assert len(set(seen)) == len(seen)


# ---------------------------------------------------------------------------------------------
# 4. stdout


def test_access_logfile_dash_writes_to_stdout(tmp_path):
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen([LANNER, "-b", "127.0.0.1:0", "-w", "1", "--access-logfile", "-", APP],
                                cwd=str(APPS), stdout=stdout, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (m := re.search(r"Listening at: \S*?:(\d+)", err.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.02)
        port = int(m.group(1))
        assert status_of(send(port, req("GET", "/to-stdout?x=1", [("User-Agent", "probe/1.0")]))) == 200
        line = read_lines(out, 1)[0]
        assert CLF_TIME.sub("[TIME]", line) == '127.0.0.1 - - [TIME] "GET /to-stdout?x=1 HTTP/1.1" 200 13 "-" "probe/1.0"'
        assert "to-stdout" not in err.read_text()  # the error log (stderr) does not get it
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


# ---------------------------------------------------------------------------------------------
# 5. SIGUSR1


def test_usr1_reopens_the_access_log(lanner, tmp_path):
    log = tmp_path / "access.log"
    rotated = tmp_path / "access.log.1"
    server = lanner(["-w", "1", "--access-logfile", str(log), APP])
    assert status_of(send(server.port, req("GET", "/before-rotation"))) == 200
    assert "/before-rotation" in read_lines(log, 1)[0]

    log.rename(rotated)  # what logrotate does
    mark = server.line_count()
    server.send_signal(signal.SIGUSR1)
    server.wait_for(r"Reopening log files", start=mark)
    assert status_of(send(server.port, req("GET", "/after-rotation"))) == 200

    new_lines = read_lines(log, 1)
    assert "/after-rotation" in new_lines[0]
    old_lines = read_lines(rotated, 1)
    assert "/before-rotation" in old_lines[0]
