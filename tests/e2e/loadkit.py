"""A bounded background load for the supervision tests: threads that send requests until told
to stop (or a deadline passes), recording every outcome."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter


class Load:
    def __init__(self, port: int, paths, threads: int = 4, deadline: float = 120.0) -> None:
        self.port = port
        self.paths = paths if callable(paths) else (lambda i, p=list(paths): p[i % len(p)])
        self.results: list[tuple[str, object]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + deadline
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def __enter__(self) -> "Load":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def _run(self, n: int) -> None:
        i = n
        conn = None
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            path = self.paths(i)
            i += len(self._threads)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                outcome: object = resp.status
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__
                if conn is not None:
                    conn.close()
                conn = None
            with self._lock:
                self.results.append((path, outcome))
        if conn is not None:
            conn.close()

    def outcomes(self, predicate=lambda path: True) -> Counter:
        with self._lock:
            return Counter(o for p, o in self.results if predicate(p))

    def count(self) -> int:
        with self._lock:
            return len(self.results)
