"""`lanner top`: the live view of a running server, read from its control bind."""

import re
import subprocess
import threading

from serverkit import LANNER


def control_port(server) -> int:
    return int(server.wait_for(r"Control endpoints \(/metrics, /livez, /readyz, /status\) at: http://127\.0\.0\.1:(\d+)").group(1))


def test_top_once_shows_each_worker_with_its_current_request_and_the_request_rate(lanner):
    server = lanner(["-w", "2", "--control-bind", "127.0.0.1:0", "misbehaving:app"])
    address = f"127.0.0.1:{control_port(server)}"
    for _ in range(6):
        assert server.request("GET", "/ok")[0].status == 200
    slow = threading.Thread(target=server.request, args=("GET", "/sleep?s=4"))
    slow.start()
    server_pids = set(server.worker_pids())

    # Requests keep coming while top measures, so its rate is not zero.
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            server.request("GET", "/ok")

    busy = threading.Thread(target=traffic)
    busy.start()
    try:
        top = subprocess.run([LANNER, "top", "--once", "--interval", "0.5", address], capture_output=True, text=True, timeout=30)
    finally:
        stop.set()
        busy.join()
    slow.join()

    assert top.returncode == 0, top.stderr
    out = top.stdout
    assert "\x1b[" not in out  # a pipe gets plain text
    summary = re.search(r"lanner pid (\d+) at 127\.0\.0\.1:\d+  serving .* workers 2/2 ready", out)
    assert summary and int(summary.group(1)) == server.proc.pid, out
    rate = re.search(r"requests (\d+)  rate ([\d.]+)/s  mean latency ([\d.]+) ms  p50 ([\d.]+) ms  p99 ([\d.]+) ms", out)
    assert rate and int(rate.group(1)) >= 6 and float(rate.group(2)) > 0, out
    assert 0 < float(rate.group(4)) <= float(rate.group(5)), out  # quantiles from /metrics' histogram
    rows = {int(m.group(1)): m.group(0) for m in re.finditer(r"^\s+\d+\s+(\d+)\s+ready\s+1\s+.*$", out, re.M)}
    assert set(rows) == server_pids, out
    busy_rows = [row for row in rows.values() if "GET /sleep?s=4 [" in row]
    assert len(busy_rows) == 1, out
    assert re.search(r"\d+\.\d s\s*$", busy_rows[0]), busy_rows[0]  # the age of the running request


def test_top_without_a_reachable_server_says_so(lanner):
    top = subprocess.run([LANNER, "top", "--once", "127.0.0.1:1"], capture_output=True, text=True, timeout=30)
    assert top.returncode == 1
    assert "cannot read 127.0.0.1:1/status" in top.stderr and "--control-bind" in top.stderr


def test_top_without_an_address_is_a_usage_error():
    top = subprocess.run([LANNER, "top"], capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert top.returncode == 2
    assert "no control address given" in top.stderr and "usage: lanner top" in top.stderr
