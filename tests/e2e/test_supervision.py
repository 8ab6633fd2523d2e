"""Supervision that loses nothing: timeouts, recycling, crash loops, signals, overload."""

import os
import re
import signal
import socket
import threading
import time

import pytest

from lanner.worker.main import WORKER_NICE
from loadkit import Load
from serverkit import APPS


def pids_alive(pids):
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                alive.append(pid)
        except (ProcessLookupError, FileNotFoundError):
            pass
    return alive


def wait_until(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_hung_request_gets_504_and_the_stack_of_the_hung_function_is_logged(lanner):
    server = lanner(["-w", "2", "-t", "1", "misbehaving"])
    started = time.monotonic()
    resp, _ = server.request("GET", "/spin")
    elapsed = time.monotonic() - started
    assert resp.status == 504
    assert 1.0 <= elapsed < 4.0, elapsed
    m = server.wait_for(r"\[CRITICAL\] WORKER TIMEOUT \(pid:(\d+)\) worker \d+ ran GET /spin \[\w+\] past the 1 s timeout")
    server.wait_for(r'File ".*misbehaving\.py", line \d+ in spin_forever')
    wait_until(lambda: not pids_alive([int(m.group(1))]), what="the hung worker to be gone")
    for _ in range(10):
        assert server.request("GET", "/ok")[0].status == 200


def test_hung_worker_that_ignores_sigterm_is_killed(lanner):
    server = lanner(["-w", "1", "-t", "1", "misbehaving"])
    resp, _ = server.request("GET", "/ignore-term")
    assert resp.status == 504
    m = server.wait_for(r"WORKER TIMEOUT \(pid:(\d+)\)")
    wait_until(lambda: not pids_alive([int(m.group(1))]), timeout=10, what="SIGKILL after the grace")
    assert server.request("GET", "/ok")[0].status == 200


def test_requests_queued_behind_a_hung_one_are_served_elsewhere(lanner):
    server = lanner(["-w", "2", "-t", "2", "misbehaving"])
    for _ in range(10):
        server.request("GET", "/ok")
    statuses = {}

    def get(name, path):
        statuses[name] = server.request("GET", path)[0].status

    threads = [threading.Thread(target=get, args=("spin", "/spin"))]
    threads += [threading.Thread(target=get, args=(f"ok{i}", "/sleep?s=0.3")) for i in range(6)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join(15)
    assert statuses.pop("spin") == 504
    assert set(statuses.values()) == {200}


def test_max_requests_with_jitter_recycles_without_failing_a_request(lanner):
    server = lanner(["-w", "2", "--max-requests", "20", "--max-requests-jitter", "5", "misbehaving"])
    pids = set()
    served: list[int] = []
    # A retiring worker serves on until its replacement is ready (capacity never dips), so how
    # many requests it takes to see four recycles depends on how fast workers boot here.
    for _ in range(2000):
        resp, body = server.request("GET", "/ok")
        assert resp.status == 200
        pids.add(int(body))
        served = [int(n) for n in re.findall(r"is being replaced: it served (\d+) requests", server.output)]
        if len(served) >= 4:
            break
    assert len(served) >= 4
    assert all(20 <= n <= 25 for n in served), served
    assert len(pids) >= 4  # replaced workers really left (some overlap while replacements boot)


def test_max_worker_memory_recycles_after_the_request(lanner):
    server = lanner(["-w", "1", "--max-worker-memory", "60", "misbehaving"])
    pid = int(server.request("GET", "/ok")[1])
    resp, body = server.request("GET", "/leak?mb=80")
    assert resp.status == 200  # the request that crossed the limit completes
    server.wait_for(rf"Worker \d+ \(pid {pid}\) is being replaced: its memory \(\d+ MiB\) exceeds --max-worker-memory \(60 MiB\)")
    wait_until(lambda: not pids_alive([pid]), what="the old worker to stop")
    assert int(server.request("GET", "/ok")[1]) != pid


def test_sigkill_from_outside_is_reported_and_replaced(lanner):
    server = lanner(["-w", "2", "misbehaving"])
    server.request("GET", "/ok")
    wait_until(lambda: len(server.worker_pids()) == 2, what="two workers")
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    server.wait_for(rf"\(pid {victim}\) exited unexpectedly with signal SIGKILL \(not sent by Lanner: possibly killed by the OOM killer\)")
    wait_until(lambda: len(server.worker_pids()) == 2 and victim not in server.worker_pids(), what="a replacement")
    assert server.request("GET", "/ok")[0].status == 200


def test_crash_loop_backs_off_answers_503_and_recovers(lanner, tmp_path):
    marker = tmp_path / "broken"
    server = lanner(["-w", "1", "flaky_import"], env={"LANNER_TEST_FAIL_MARKER": str(marker)})
    pid = int(server.request("GET", "/")[1])
    marker.write_text("now the import fails")
    os.kill(pid, signal.SIGKILL)
    server.wait_for(r"failed to boot: crash loop, 1 in a row; next attempt in 0\.5 s")
    server.wait_for(r"crash loop, 2 in a row; next attempt in 1 s")
    resp, _ = server.request("GET", "/")
    assert resp.status == 503
    assert resp.getheader("Retry-After")
    # Far fewer boots than a respawn storm would make.
    assert server.output.count("Booting worker with pid") <= 5
    marker.unlink()
    wait_until(lambda: server.request("GET", "/")[0].status == 200, timeout=20, what="recovery")


def test_sigterm_under_load_finishes_every_accepted_request_and_leaves_no_process(lanner):
    server = lanner(["-w", "2", "misbehaving"])
    server.request("GET", "/ok")
    workers = server.worker_pids()
    with Load(server.port, ["/sleep?s=0.2", "/ok"], threads=8) as load:
        wait_until(lambda: load.count() > 30, what="load")
        server.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
    outcomes = load.outcomes()
    # Accepted requests all completed; after the listener closed, new connections are refused.
    assert set(outcomes) <= {200, "ConnectionRefusedError", "RemoteDisconnected", "ConnectionResetError"}, outcomes
    assert outcomes[200] > 30
    assert "Handling signal: term" in server.output and "Shutting down: Master" in server.output
    assert pids_alive(workers) == []


def test_sigterm_to_the_whole_group_starts_no_new_workers(lanner):
    """systemd's default KillMode signals every process of the service at once. The workers exit,
    and the draining master must not boot a new set only to stop it."""
    server = lanner(["-w", "2", "hello"])
    assert server.request("GET", "/")[0].status == 200
    os.killpg(server.proc.pid, signal.SIGTERM)
    assert server.proc.wait(30) == 0
    assert len(re.findall(r"Booting worker with pid", server.output)) == 2, server.output


def test_sigterm_to_the_whole_group_still_serves_the_requests_waiting_for_a_worker(lanner):
    """The one worker finishes its request and exits with the others' requests still queued in the
    master: a worker is started for them, and every accepted request gets its answer."""
    server = lanner(["-w", "1", "misbehaving"])
    for _ in range(3):  # slow on average: the worker is sent one request at a time, the rest queue
        assert server.request("GET", "/sleep?s=0.1")[0].status == 200
    statuses = {}

    def get(i):
        statuses[i] = server.request("GET", "/sleep?s=0.5")[0].status

    threads = [threading.Thread(target=get, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    time.sleep(0.1)
    os.killpg(server.proc.pid, signal.SIGTERM)
    for t in threads:
        t.join(30)
    assert server.proc.wait(30) == 0
    assert statuses == {0: 200, 1: 200, 2: 200}, (statuses, server.output)
    assert len(re.findall(r"Booting worker with pid", server.output)) == 2, server.output


def test_hup_reloads_new_code_without_failing_a_request(lanner, tmp_path):
    app = tmp_path / "reloadable.py"
    app.write_text("def application(e, s):\n    s('200 OK', [('Content-Type', 'text/plain')])\n    return [b'v1']\n")
    server = lanner(["-w", "2", "--chdir", str(tmp_path), "reloadable"])
    assert server.request("GET", "/")[1] == b"v1"
    with Load(server.port, ["/"], threads=4) as load:
        wait_until(lambda: load.count() > 20, what="load")
        app.write_text("def application(e, s):\n    s('200 OK', [('Content-Type', 'text/plain')])\n    return [b'v2']\n")
        server.send_signal(signal.SIGHUP)
        server.wait_for(r"Reload complete: generation 2 serves")
        wait_until(lambda: server.request("GET", "/")[1] == b"v2", what="new code")
        time.sleep(0.5)
    assert set(load.outcomes()) == {200}, load.outcomes()


def test_reload_extra_file_outside_the_project_triggers_a_reload(lanner, tmp_path):
    project, settings_dir = tmp_path / "project", tmp_path / "etc"
    project.mkdir()
    settings_dir.mkdir()
    (project / "reloadable.py").write_text("def application(e, s):\n    s('200 OK', [])\n    return [b'v1']\n")
    extra = settings_dir / "app.toml"
    extra.write_text("level = 1\n")
    server = lanner(["--chdir", str(project), "--reload", "--reload-extra-file", str(extra), "reloadable"])
    server.wait_for(rf"Watching {re.escape(str(project))}, {re.escape(str(settings_dir))} for changes")
    (settings_dir / "unrelated.txt").write_text("not watched\n")
    extra.write_text("level = 2\n")
    server.wait_for(rf"{re.escape(str(extra))} changed, reloading")
    server.wait_for(r"Reload complete: generation 2 serves")
    assert "unrelated.txt" not in server.output


def test_hup_to_code_that_cannot_import_keeps_the_old_workers(lanner, tmp_path):
    app = tmp_path / "reloadable.py"
    app.write_text("def application(e, s):\n    s('200 OK', [])\n    return [b'v1']\n")
    server = lanner(["-w", "2", "--chdir", str(tmp_path), "reloadable"])
    pids = set(server.worker_pids())
    with Load(server.port, ["/"], threads=4) as load:
        wait_until(lambda: load.count() > 20, what="load")
        app.write_text("import missing_dependency_of_the_new_release\n")
        server.send_signal(signal.SIGHUP)
        server.wait_for(r"Reload failed: the new workers cannot load the app \(.*missing_dependency_of_the_new_release.*\); the old workers keep serving")
        time.sleep(0.5)
    assert set(load.outcomes()) == {200}
    assert server.request("GET", "/")[1] == b"v1"
    assert pids <= set(server.worker_pids())


def test_ttin_and_ttou_change_the_number_of_workers(lanner):
    server = lanner(["-w", "2", "misbehaving"])
    wait_until(lambda: len(server.worker_pids()) == 2, what="2 workers")
    server.send_signal(signal.SIGTTIN)
    server.wait_for(r"Number of workers: 3")
    wait_until(lambda: len(server.worker_pids()) == 3, what="3 workers")
    server.send_signal(signal.SIGTTOU)
    server.wait_for(r"Number of workers: 2")  # identical signals sent at once merge: one at a time
    server.send_signal(signal.SIGTTOU)
    server.wait_for(r"Number of workers: 1")
    wait_until(lambda: len(server.worker_pids()) == 1, what="1 worker")
    assert server.request("GET", "/ok")[0].status == 200


def test_overload_answers_503_with_retry_after_and_loses_no_connection(lanner):
    server = lanner(["-w", "1", "--max-queue", "2", "misbehaving"])
    server.request("GET", "/ok")
    results = []

    def get():
        resp, _ = server.request("GET", "/sleep?s=1")
        results.append((resp.status, resp.getheader("Retry-After")))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8  # every connection got an answer
    statuses = sorted(s for s, _ in results)
    assert statuses.count(200) >= 3 and statuses.count(503) >= 1, results
    assert all(r == "1" for s, r in results if s == 503)


def test_queue_timeout_answers_503(lanner):
    server = lanner(["-w", "1", "--queue-timeout", "0.5", "misbehaving"])
    server.request("GET", "/ok")
    first = threading.Thread(target=server.request, args=("GET", "/sleep?s=2"))
    first.start()
    time.sleep(0.2)
    started = time.monotonic()
    resp, _ = server.request("GET", "/ok")
    waited = time.monotonic() - started
    first.join(10)
    assert resp.status == 503 and resp.getheader("Retry-After") == "1"
    assert 0.4 <= waited < 1.5, waited


def test_capture_output_tags_lines_with_the_worker(lanner):
    server = lanner(["-w", "1", "--capture-output", "misbehaving"])
    server.request("GET", "/print?n=2")
    server.wait_for(r"\[worker \d+ pid \d+\] stdout line 1")
    server.wait_for(r"\[worker \d+ pid \d+\] stderr line 1")


def test_requests_sent_to_a_worker_as_it_is_killed_are_served_elsewhere(lanner):
    # The scoreboard tells which requests a dead worker had started; the rest are not lost.
    server = lanner(["-w", "2", "misbehaving"])
    for round_ in range(5):
        ready = set()
        wait_until(lambda: ready.add(int(server.request("GET", "/ok")[1])) or len(ready) == 2, what="two ready workers")
        victim = sorted(ready)[round_ % 2]
        os.kill(victim, signal.SIGKILL)
        statuses = [server.request("GET", "/ok")[0].status for _ in range(10)]
        assert statuses == [200] * 10, (round_, statuses)


def test_a_worker_stopped_before_it_connected_leaves_at_once_and_shutdown_stays_prompt(lanner, tmp_path):
    """A reload while the previous reload's worker is still starting stops that worker before it
    has connected. It must leave as soon as it connects -- not serve, not linger until it is
    killed -- and must never hold up the master's shutdown. (The interpreter here takes a second
    to start and ignores SIGTERM meanwhile, which makes the window wide enough to hit.)"""
    slow_python = tmp_path / "slow-python"
    slow_python.write_text("#!/bin/sh\ntrap '' TERM\nsleep 1\nexec /usr/bin/python3 \"$@\"\n")
    slow_python.chmod(0o755)
    server = lanner(["-w", "1", "--python", str(slow_python), "misbehaving"])
    assert server.request("GET", "/ok")[0].status == 200
    server.send_signal(signal.SIGHUP)
    server.wait_for(r"\(generation 2\)")
    time.sleep(0.3)  # the generation-2 worker is still in its one-second start
    server.send_signal(signal.SIGHUP)
    server.wait_for(r"Reload complete: generation 3 serves")
    booted = [int(p) for p in re.findall(r"Booting worker with pid: (\d+)", server.output)]
    assert len(booted) == 3
    server.wait_for(rf"Worker exiting \(pid: {booted[1]}\)", timeout=10)
    wait_until(lambda: server.worker_pids() == [booted[2]], timeout=10, what="only the generation-3 worker")
    assert server.request("GET", "/ok")[0].status == 200
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 10, "the shutdown waited for something"
    assert "failed unexpectedly" not in server.output and "did not end" not in server.output, server.output



@pytest.mark.parametrize("prefix, args, policy, nicer", [
    ([], [], os.SCHED_BATCH, WORKER_NICE),
    ([], ["--preload"], os.SCHED_BATCH, WORKER_NICE),
    ([], ["--cpu-scheduling", "normal"], os.SCHED_OTHER, 0),
    (["chrt", "--idle", "0"], [], os.SCHED_IDLE, 0),  # an operator's choice (chrt, systemd) is left alone
], ids=["default", "preload", "normal", "started-idle"])
def test_every_thread_of_the_master_and_the_workers_runs_with_the_chosen_scheduling_policy(lanner, prefix, args, policy, nicer):
    server = lanner(["-w", "2", "--threads", "2", *args, "hello:app"], prefix=prefix)
    assert server.request("GET", "/")[0].status == 200
    wait_until(lambda: len(server.descendant_pids()) >= 2, what="two workers")
    threads = [int(tid) for pid in server.descendant_pids() for tid in os.listdir(f"/proc/{pid}/task")]
    assert len(threads) >= 6  # two workers, each a main thread and two request threads at least
    assert {tid: os.sched_getscheduler(tid) for tid in threads} == {tid: policy for tid in threads}
    # Under batch the workers are nicer than the master, so the master gets the CPU first.
    master_nice = os.getpriority(os.PRIO_PROCESS, server.proc.pid)
    assert {tid: os.getpriority(os.PRIO_PROCESS, tid) for tid in threads} == {tid: master_nice + nicer for tid in threads}

    def master_policies():
        policies = {}
        for tid in os.listdir(f"/proc/{server.proc.pid}/task"):
            try:
                policies[int(tid)] = os.sched_getscheduler(int(tid))
            except ProcessLookupError:  # a thread that just ended
                pass
        return policies

    # Threads the master starts later are switched within a second.
    wait_until(lambda: set(master_policies().values()) == {policy}, timeout=10, what=f"every master thread with policy {policy}")
    assert len(master_policies()) > 1
