"""The master's quick and graceful shutdowns keep gunicorn's promises: QUIT runs each worker's
worker_int hook (SIGQUIT, as gunicorn's quick shutdown) and starts no replacement; TERM ends within
--graceful-timeout, workers included; a second Ctrl-C (or a QUIT) during that wait stops at once,
as under uvicorn; every HUP tells nworkers_changed, as gunicorn's arbiter does."""

import signal
import threading
import time
import urllib.request

import pytest


def wait_lines(path, n):
    """Waits until the file a hook writes has n lines."""
    deadline = time.monotonic() + 30
    while not path.exists() or len(path.read_text().splitlines()) < n:
        assert time.monotonic() < deadline, path
        time.sleep(0.05)
    return path.read_text().splitlines()


@pytest.mark.parametrize("with_hook", [True, False], ids=["worker_int", "no hook"])
def test_quit_ends_the_workers_at_once_and_replaces_none(lanner, tmp_path, with_hook):
    marks, ready = tmp_path / "int.log", tmp_path / "ready.log"
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("import os\n"
                    f"def post_worker_init(worker):\n    open({str(ready)!r}, 'a').write(str(os.getpid()) + '\\n')\n" + (
                        f"def worker_int(worker):\n    open({str(marks)!r}, 'a').write(str(os.getpid()) + '\\n')\n" if with_hook else ""))
    server = lanner(["-c", str(conf), "-w", "2", "hello"])
    workers = {int(pid) for pid in wait_lines(ready, 2)}
    assert len(workers) == 2
    assert server.stop(signal.SIGQUIT) == 0
    after = server.output.split("Handling signal: quit", 1)[1]
    assert "Booting worker" not in after, after
    if with_hook:
        assert {int(line) for line in marks.read_text().split()} == workers
    else:
        assert not marks.exists()


def slow_request(server, seconds):
    """A request to /sleep running in the worker: its thread, and a dict its result lands in."""
    outcome = {}

    def slow():
        try:
            urllib.request.urlopen(server.url(f"/sleep?s={seconds}"), timeout=seconds * 2).read()
            outcome["result"] = "answered"
        except Exception as exc:  # cut off by the shutdown, as it should be
            outcome["result"] = type(exc).__name__

    client = threading.Thread(target=slow)
    client.start()
    time.sleep(1.0)  # the request is in the worker
    return client, outcome


def test_term_ends_within_the_graceful_timeout_with_a_request_still_running(lanner):
    server = lanner(["-w", "1", "--graceful-timeout", "2", "--timeout", "0", "misbehaving"])
    client, outcome = slow_request(server, 30)
    started = time.monotonic()
    assert server.stop(signal.SIGTERM, timeout=30) == 0
    took = time.monotonic() - started
    client.join(30)
    # 2 s of grace, half a second for the workers, a second of slack: not the 10 s it used to take.
    assert took < 6.0, took
    assert outcome["result"] != "answered"


@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGQUIT], ids=["INT again", "QUIT"])
def test_a_second_ctrl_c_during_the_graceful_stop_stops_now(lanner, second):
    server = lanner(["-w", "1", "--graceful-timeout", "30", "--timeout", "0", "misbehaving"])
    client, outcome = slow_request(server, 60)
    server.send_signal(signal.SIGINT)
    server.wait_for(r"Handling signal: int")
    time.sleep(0.5)
    assert server.proc.poll() is None  # the first Ctrl-C waits for the request (30 s of grace)
    started = time.monotonic()
    assert server.stop(second, timeout=30) == 0
    took = time.monotonic() - started
    client.join(30)
    assert took < 5.0, took
    assert outcome["result"] != "answered"
    assert f"Handling signal: {second.name[3:].lower()} during the graceful stop: stopping now" in server.output
    assert server.output.rstrip().endswith("Shutting down: Master"), server.output[-500:]


def test_every_reload_calls_nworkers_changed(lanner, tmp_path):
    marks = tmp_path / "nworkers.log"
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(f"workers = 2\ndef nworkers_changed(server, new, old):\n    open({str(marks)!r}, 'a').write(f'{{new}} {{old}}\\n')\n")
    server = lanner(["-c", str(conf), "hello"])
    assert wait_lines(marks, 1) == ["2 None"]
    server.send_signal(signal.SIGHUP)
    server.wait_for(r"Reload complete")
    assert wait_lines(marks, 2) == ["2 None", "2 2"]
