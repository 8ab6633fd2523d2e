"""The control endpoints (--control-bind): /metrics in the Prometheus text format, read with the
small parser below and checked to the exact count; /livez; /readyz, including 503 while a
graceful shutdown drains; /status."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest

# ---- a Prometheus text-format (0.0.4) parser ---------------------------------------------------------

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


@dataclass
class Family:
    name: str
    type: str = "untyped"
    help: str | None = None
    samples: list[tuple[str, dict, float]] = field(default_factory=list)


def _labels(text: str, line: str) -> tuple[dict, str]:
    """Parses `{a="x",b="y"}` at the start of ``text``; returns the labels and the rest."""
    labels: dict[str, str] = {}
    i = 1
    while True:
        while text[i] == " ":
            i += 1
        if text[i] == "}":
            return labels, text[i + 1:]
        m = LABEL_NAME.match(text, i)
        assert m, f"bad label name in {line!r}"
        name = m.group(0)
        i = m.end()
        assert text[i:i + 2] == '="', f"bad label in {line!r}"
        i += 2
        value = []
        while text[i] != '"':
            if text[i] == "\\":
                value.append({"\\": "\\", '"': '"', "n": "\n"}[text[i + 1]])
                i += 2
            else:
                value.append(text[i])
                i += 1
        i += 1
        assert name not in labels, f"label {name} twice in {line!r}"
        labels[name] = "".join(value)
        if text[i] == ",":
            i += 1
        else:
            assert text[i] == "}", f"bad label list in {line!r}"


def _value(text: str) -> float:
    return {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}.get(text, None) or float(text)


def parse_prometheus(text: str) -> dict[str, Family]:
    """The families of a scrape, by name. Checks the format as it goes: names, HELP and TYPE at
    most once and before the family's samples, samples of a histogram only with its suffixes."""
    families: dict[str, Family] = {}
    sampled: set[str] = set()

    def family_of(sample: str) -> Family:
        if sample in families:
            return families[sample]
        for suffix in ("_bucket", "_sum", "_count"):
            base = sample[: -len(suffix)]
            if sample.endswith(suffix) and base in families and families[base].type in ("histogram", "summary"):
                assert suffix != "_bucket" or families[base].type == "histogram", sample
                return families[base]
        return families.setdefault(sample, Family(sample))

    for line in text.split("\n"):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                assert NAME.fullmatch(name), f"bad metric name {name!r}"
                fam = families.setdefault(name, Family(name))
                assert name not in sampled, f"{parts[1]} of {name} after its samples"
                if parts[1] == "HELP":
                    assert fam.help is None, f"HELP twice for {name}"
                    fam.help = parts[3] if len(parts) > 3 else ""
                else:
                    kind = parts[3].strip() if len(parts) > 3 else ""
                    assert kind in TYPES, f"bad TYPE {kind!r} for {name}"
                    assert fam.type == "untyped" or fam.type == kind, f"TYPE twice for {name}"
                    fam.type = kind
            continue
        m = NAME.match(line)
        assert m, f"bad sample line {line!r}"
        name, rest = m.group(0), line[m.end():]
        labels: dict = {}
        if rest.startswith("{"):
            labels, rest = _labels(rest, line)
        fields = rest.split()
        assert len(fields) in (1, 2), f"bad sample line {line!r}"  # value [timestamp]
        fam = family_of(name)
        sampled.add(fam.name)
        fam.samples.append((name, labels, _value(fields[0])))
    return families


class Scrape:
    """One /metrics answer, parsed, with lookups that fail loudly."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = parse_prometheus(text)
        for fam in self.families.values():
            if fam.type == "histogram":
                check_histogram(fam)

    def value(self, name: str, **labels: str) -> float:
        found = [v for n, l, v in self.all_samples() if n == name and l == labels]
        assert len(found) == 1, f"{name}{labels}: {len(found)} samples in\n{self.text}"
        return found[0]

    def by_label(self, name: str, label: str) -> dict[str, float]:
        return {l[label]: v for n, l, v in self.all_samples() if n == name}

    def all_samples(self):
        for fam in self.families.values():
            yield from fam.samples


def check_histogram(fam: Family) -> None:
    """Buckets cumulative in increasing `le`, the last +Inf and equal to _count; _sum present."""
    series: dict[tuple, dict] = {}
    for name, labels, value in fam.samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": []})
        if name == fam.name + "_bucket":
            s["buckets"].append((_value(labels["le"]), value))
        else:
            suffix = name[len(fam.name):]
            assert suffix in ("_sum", "_count"), name
            assert suffix not in s, f"{name} twice"
            s[suffix] = value
    assert series, f"histogram {fam.name} has no samples"
    for key, s in series.items():
        bounds = [le for le, _ in s["buckets"]]
        counts = [c for _, c in s["buckets"]]
        assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), (fam.name, bounds)
        assert bounds and bounds[-1] == math.inf, f"{fam.name}: no +Inf bucket"
        assert all(a <= b for a, b in zip(counts, counts[1:])), f"{fam.name}: buckets not cumulative {counts}"
        assert "_sum" in s and "_count" in s, fam.name
        assert counts[-1] == s["_count"], f"{fam.name}: +Inf {counts[-1]} != _count {s['_count']}"


def test_the_parser_itself():
    scrape = Scrape(
        '# HELP a_total Things.\n# TYPE a_total counter\na_total{m="GET",s="say \\"hi\\"\\n"} 3\n'
        "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.7\nh_count 2\n"
    )
    assert scrape.value("a_total", m="GET", s='say "hi"\n') == 3
    assert scrape.families["a_total"].type == "counter" and scrape.families["a_total"].help == "Things."
    assert scrape.value("h_count") == 2
    for broken in ("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",  # not cumulative
                   "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  # no +Inf
                   "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",  # +Inf != count
                   "a 1\n# TYPE a counter\n",  # TYPE after samples
                   "a{b=\"1\" 2\n"):  # unterminated labels
        with pytest.raises((AssertionError, IndexError)):
            Scrape(broken)


# ---- helpers ----------------------------------------------------------------------------------------


class Control:
    def __init__(self, server) -> None:
        m = server.wait_for(r"Control endpoints \(/metrics, /livez, /readyz, /status\) at: http://127\.0\.0\.1:(\d+)$")
        self.port = int(m.group(1))

    def get(self, path: str) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def metrics(self) -> Scrape:
        status, headers, body = self.get("/metrics")
        assert status == 200
        assert headers["content-type"].startswith("text/plain; version=0.0.4")
        return Scrape(body.decode())

    def status(self) -> dict:
        status, headers, body = self.get("/status")
        assert status == 200 and headers["content-type"].startswith("application/json")
        return json.loads(body)

    def until(self, what: str, predicate, read=None, timeout: float = 30.0):
        """Polls until predicate(read()) holds; returns the last reading."""
        read = read or self.metrics
        deadline = time.monotonic() + timeout
        while True:
            value = read()
            if predicate(value):
                return value
            assert time.monotonic() < deadline, f"{what}: not within {timeout}s; last:\n{getattr(value, 'text', value)}"
            time.sleep(0.05)


def requests_by(scrape: Scrape) -> dict[tuple[str, str], float]:
    return {(l["method"], l["status"]): v for n, l, v in scrape.all_samples() if n == "lanner_http_requests_total" and v}


# ---- the tests ---------------------------------------------------------------------------------------


def test_metrics_count_exactly(lanner, tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "a.txt").write_bytes(b"static body\n" * 10)
    server = lanner(["-w", "2", "--control-bind", "127.0.0.1:0", "--static", f"/static/={root}", "misbehaving"])
    control = Control(server)
    first = control.until("two ready workers", lambda s: s.value("lanner_workers", state="ready") == 2)
    assert requests_by(first) == {}
    assert first.value("lanner_http_request_duration_seconds_count") == 0

    status, _, body = control.get("/livez")
    assert (status, body) == (200, b"ok\n")
    status, _, body = control.get("/readyz")
    assert (status, body) == (200, b"ready\n")
    assert control.get("/nothing-here")[0] == 404
    for method in ("POST", "DELETE"):
        conn = http.client.HTTPConnection("127.0.0.1", control.port, timeout=10)
        conn.request(method, "/metrics")
        resp = conn.getresponse()
        assert (resp.status, resp.getheader("Allow")) == (405, "GET, HEAD")
        conn.close()

    received = 0
    statuses = []
    for method, path, payload in (
        ("GET", "/ok", None), ("GET", "/ok", None), ("GET", "/ok", None),
        ("POST", "/ok", b"x" * 100),
        ("GET", "/missing", None),
        ("GET", "/static/a.txt", None), ("GET", "/static/a.txt", None),
        ("GET", "/static/nope.txt", None),
        ("PUT", "/ok", b"y" * 23),
    ):
        resp, data = server.request(method, path, body=payload)
        statuses.append(resp.status)
        received += len(data)
    assert statuses == [200, 200, 200, 200, 404, 200, 200, 404, 200]

    # The counts are recorded as each response ends: wait for all nine, then every one is exact.
    scrape = control.until("nine requests", lambda s: s.value("lanner_http_request_duration_seconds_count") == 9)
    assert requests_by(scrape) == {("GET", "2xx"): 5, ("GET", "4xx"): 2, ("POST", "2xx"): 1, ("PUT", "2xx"): 1}
    assert scrape.by_label("lanner_static_requests_total", "status") == {"2xx": 2, "4xx": 1}
    assert scrape.value("lanner_http_request_body_bytes_total") == 123
    assert scrape.value("lanner_http_response_body_bytes_total") == received
    assert scrape.value("lanner_http_request_duration_seconds_bucket", le="+Inf") == 9
    assert 0 < scrape.value("lanner_http_request_duration_seconds_sum") < 30
    assert scrape.value("lanner_queue_wait_seconds_count") == 6  # the app's requests, not the static ones
    assert scrape.value("lanner_queue_depth") == 0
    assert scrape.by_label("lanner_workers", "state") == {"spawned": 0, "booting": 0, "ready": 2, "draining": 0, "exited": 0}
    assert scrape.value("lanner_workers_target") == 2
    assert set(scrape.by_label("lanner_worker_exits_total", "reason").values()) == {0}
    assert scrape.value("lanner_worker_restarts_total") == 0
    assert sum(v for _, _, v in scrape.families["lanner_failed_requests_total"].samples) == 0
    assert abs(scrape.value("process_start_time_seconds") - time.time()) < 600
    assert scrape.value("process_resident_memory_bytes") > 1 << 20

    # Every family is documented and typed; a *_total is a counter, as Prometheus expects.
    for fam in scrape.families.values():
        assert fam.help, fam.name
        assert fam.type != "untyped", fam.name
        assert (fam.type == "counter") == fam.name.endswith("_total"), (fam.name, fam.type)

    st = control.status()
    assert st["pid"] == server.proc.pid
    assert (st["target"], st["generation"], st["queue"], st["draining"]) == (2, 1, 0, False)
    assert st["requests_total"] == 9 and st["duration_sum_seconds"] > 0 and st["uptime_seconds"] > 0
    workers = st["workers"]
    assert {w["pid"] for w in workers} == set(server.worker_pids())
    assert sum(w["served"] for w in workers) == 6
    for w in workers:
        assert set(w) == {"id", "pid", "state", "generation", "retiring", "served", "in_flight", "current", "current_seconds", "rss_bytes"}
        assert (w["state"], w["generation"], w["retiring"], w["in_flight"], w["current"], w["current_seconds"]) == ("ready", 1, False, 0, None, None)
        assert w["rss_bytes"] > 1 << 20

    # A worker killed from outside: one exit by a signal Lanner did not send, one restart.
    victim = workers[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    scrape = control.until(
        "the replacement",
        lambda s: s.value("lanner_worker_restarts_total") == 1 and s.value("lanner_workers", state="ready") == 2,
    )
    exits = scrape.by_label("lanner_worker_exits_total", "reason")
    assert exits == {"stopped": 0, "crashed": 0, "signaled": 1, "killed": 0, "bootfailed": 0, "protocolerror": 0}
    assert scrape.by_label("lanner_workers", "state") == {"spawned": 0, "booting": 0, "ready": 2, "draining": 0, "exited": 0}
    st = control.status()
    assert victim not in {w["pid"] for w in st["workers"]} and len(st["workers"]) == 2
    resp, _ = server.request("GET", "/ok")
    assert resp.status == 200
    scrape = control.until("ten requests", lambda s: s.value("lanner_http_request_duration_seconds_count") == 10)
    assert requests_by(scrape)[("GET", "2xx")] == 6


def test_requests_refused_before_the_app_are_counted(lanner):
    server = lanner(["-w", "1", "--control-bind", "127.0.0.1:0", "misbehaving"])
    control = Control(server)
    for raw in (b"GARBAGE\r\n\r\n", b"GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40000 + b"\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(raw)
            assert s.recv(100).split(b" ", 2)[1] in (b"400", b"431")
    assert server.request("GET", "/ok")[0].status == 200

    scrape = control.until("three requests", lambda s: s.value("lanner_http_request_duration_seconds_count") == 3)
    # The request line refused: no method is known, so "other".
    assert requests_by(scrape) == {("other", "4xx"): 1, ("GET", "4xx"): 1, ("GET", "2xx"): 1}
    assert scrape.value("lanner_queue_wait_seconds_count") == 1  # only the app's request


def test_readyz_is_503_while_a_graceful_shutdown_drains(lanner):
    server = lanner(["-w", "1", "--control-bind", "127.0.0.1:0", "--graceful-timeout", "30", "misbehaving"])
    control = Control(server)
    control.until("a ready worker", lambda r: r[0] == 200, read=lambda: control.get("/readyz"))

    result: dict = {}

    def slow() -> None:
        resp, body = server.request("GET", "/sleep?s=3")
        result["answer"] = (resp.status, body)

    client = threading.Thread(target=slow)
    client.start()
    control.until("the slow request running", lambda st: st["workers"] and st["workers"][0]["current"] is not None, read=control.status)
    server.send_signal(signal.SIGTERM)
    status, _, body = control.until("/readyz 503", lambda r: r[0] == 503, read=lambda: control.get("/readyz"), timeout=2.5)
    assert body == b"not ready: draining\n"
    assert client.is_alive() and "answer" not in result  # still in flight
    assert control.get("/livez")[0] == 200  # alive, only not ready
    st = control.status()
    assert st["draining"] is True and st["workers"][0]["current"].startswith("GET /sleep?s=3")
    client.join(30)
    assert result["answer"] == (200, b"slept")
    assert server.proc.wait(30) == 0


def test_connections_refused_before_http_are_counted(lanner):
    server = lanner(["-w", "1", "--control-bind", "127.0.0.1:0", "--proxy-protocol", "--proxy-allow-from", "127.0.0.1", "misbehaving"])
    control = Control(server)
    reasons = control.metrics().by_label("lanner_connections_refused_total", "reason")
    assert reasons == {"proxy_not_allowed": 0, "proxy_invalid": 0, "tls_handshake": 0}

    def send(data: bytes, source: str = "127.0.0.1") -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=(source, 0)) as s:
            s.sendall(data)
            return s.recv(100)

    assert send(b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 8000\r\n", source="127.0.0.2").startswith(b"HTTP/1.1 403 ")
    assert send(b"PROXY TCP9 nonsense\r\n").startswith(b"HTTP/1.1 400 ")
    assert send(b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 8000\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200 ")
    scrape = control.until("two refusals", lambda s: sum(s.by_label("lanner_connections_refused_total", "reason").values()) == 2)
    assert scrape.by_label("lanner_connections_refused_total", "reason") == {"proxy_not_allowed": 1, "proxy_invalid": 1, "tls_handshake": 0}
    # None of them was a request.
    assert requests_by(scrape) == {("GET", "2xx"): 1}
