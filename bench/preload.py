#!/usr/bin/python3
"""--preload measured on the demo Django site: how long a crashed worker takes to be replaced
(the only worker is killed, then one request is timed: it waits for the replacement), and the
memory (RSS and PSS summed over the process tree) of 4 workers, with and without --preload.

    bench/run-preload        (runs under /tmp/bench.lock)
"""

import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import DEMO, LANNER, free_port, locked, memory, prepare_demo, tree  # noqa: E402


def start(workers: int, preload: bool):
    port = free_port()
    cmd = [LANNER, "-b", f"127.0.0.1:{port}", "-w", str(workers)] + (["--preload"] if preload else []) + ["demo.wsgi"]
    env = {**os.environ, "DEMO_DATABASE": str(DEMO / "db.sqlite3"), "DEMO_STATIC_ROOT": str(DEMO / "staticfiles")}
    proc = subprocess.Popen(cmd, cwd=DEMO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/plain"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return proc, url
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def workers_of(proc) -> list[int]:
    pids = tree(proc.pid)[1:]
    # with --preload the master's child is the zygote; the workers are its children
    return [p for p in pids if not any(q != p and q in pids and int(open(f"/proc/{q}/stat").read().rsplit(")", 1)[1].split()[1]) == p for q in pids)]


def replacement_ms(preload: bool) -> list[float]:
    proc, url = start(1, preload)
    try:
        times = []
        for _ in range(5):
            urllib.request.urlopen(url, timeout=5).read()
            victim = workers_of(proc)[0]
            os.kill(victim, signal.SIGKILL)
            t = time.monotonic()
            urllib.request.urlopen(url, timeout=30).read()  # waits in the queue for the replacement
            times.append((time.monotonic() - t) * 1000)
            time.sleep(0.5)
        return times
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def memory_mb(preload: bool) -> tuple[float, float]:
    proc, url = start(4, preload)
    try:
        for _ in range(200):  # every worker has served, so what requests touch is resident
            urllib.request.urlopen(url, timeout=5).read()
        time.sleep(1)
        return memory(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def main() -> None:
    prepare_demo()
    print("| --preload | replace a crashed worker (ms, median of 5) | 4 workers RSS MB | 4 workers PSS MB |")
    print("|---|---:|---:|---:|")
    for preload in (False, True):
        times = locked(replacement_ms, preload)
        rss, pss = locked(memory_mb, preload)
        print(f"| {'yes' if preload else 'no'} | {statistics.median(times):.0f} | {rss:.0f} | {pss:.0f} |", flush=True)


if __name__ == "__main__":
    main()
