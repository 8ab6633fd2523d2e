#!/usr/bin/env python3
"""How long lanner takes to start: from exec to its "Listening at" line, and to the first
response of the hello app (one worker). Medians of --runs starts.

    bench/startup.py [--runs 7]          (LANNER=... to time another build)
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import LANNER, free_port, stop  # noqa: E402


def one_start() -> tuple[float, float]:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [LANNER, "-b", f"127.0.0.1:{port}", "-w", "1", "wsgi_hello:application"],
        cwd=HERE / "apps", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Listening at" in line:
                break
        else:
            raise SystemExit(f"lanner exited with {proc.wait()} before listening")
        listening = time.perf_counter() - t0
        deadline = t0 + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    r.read()
                break
            except OSError:
                if time.perf_counter() > deadline:
                    raise SystemExit("no response within 30 s")
                time.sleep(0.002)
        return listening, time.perf_counter() - t0
    finally:
        stop(proc, signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    one_start()  # the first start pays for cold page caches
    runs = [one_start() for _ in range(args.runs)]
    listen = statistics.median(r[0] for r in runs)
    first = statistics.median(r[1] for r in runs)
    print(f"{LANNER}: 'Listening at' after {listen * 1000:.0f} ms, first response after {first * 1000:.0f} ms "
          f"(medians of {args.runs} starts)")


if __name__ == "__main__":
    main()
