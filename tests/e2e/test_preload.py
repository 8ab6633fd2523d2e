"""--preload: a zygote imports the app once and forks the workers."""

import os
import re
import signal
import subprocess
import time

from loadkit import Load
from serverkit import APPS, LANNER
from test_supervision import pids_alive, wait_until


def parent_of(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])


def test_workers_are_forked_from_the_zygote_and_replaced_in_milliseconds(lanner):
    server = lanner(["-w", "2", "--preload", "misbehaving"])
    zygote = int(server.wait_for(r"Booting zygote with pid: (\d+)").group(1))
    wait_until(lambda: len({int(p) for p in re.findall(r"Booting worker with pid: (\d+)", server.output)}) == 2, what="2 workers")
    server.request("GET", "/ok")
    workers = [int(p) for p in re.findall(r"Booting worker with pid: (\d+)", server.output)]
    assert all(parent_of(pid) == zygote for pid in workers)
    assert server.worker_pids() == [zygote]  # the master's only child

    mark = server.line_count()
    resp, _ = server.request("GET", "/segfault")
    assert resp.status == 502
    died = server.wait_for(r"exited unexpectedly with signal SIGSEGV while serving GET /segfault", start=mark)
    replaced = server.wait_for(r"Booting worker with pid: (\d+)", start=mark)
    assert parent_of(int(replaced.group(1))) == zygote
    for _ in range(10):
        assert server.request("GET", "/ok")[0].status == 200


def test_hup_with_preload_restarts_the_zygote_so_new_code_loads(lanner, tmp_path):
    app = tmp_path / "reloadable.py"
    app.write_text("def application(e, s):\n    s('200 OK', [])\n    return [b'v1']\n")
    server = lanner(["-w", "2", "--preload", "--chdir", str(tmp_path), "reloadable"])
    first = int(server.wait_for(r"Booting zygote with pid: (\d+)").group(1))
    assert server.request("GET", "/")[1] == b"v1"
    with Load(server.port, ["/"], threads=4) as load:
        wait_until(lambda: load.count() > 20, what="load")
        app.write_text("def application(e, s):\n    s('200 OK', [])\n    return [b'v2']\n")
        mark = server.line_count()
        server.send_signal(signal.SIGHUP)
        second = int(server.wait_for(r"Booting zygote with pid: (\d+)", start=mark).group(1))
        server.wait_for(r"Reload complete: generation 2 serves", start=mark)
        wait_until(lambda: server.request("GET", "/")[1] == b"v2", what="new code")
    assert set(load.outcomes()) == {200}
    assert second != first
    wait_until(lambda: not pids_alive([first]), what="the old zygote to leave once its workers are gone")


def test_preload_app_that_cannot_import_exits_3(lanner):
    result = subprocess.run([LANNER, "-b", "127.0.0.1:0", "--preload", "broken_import"], cwd=APPS,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 3
    assert result.stderr.count("Traceback (most recent call last)") == 1
    assert "lanner_test_dependency_that_does_not_exist" in result.stderr


def test_sigterm_with_preload_leaves_no_process(lanner):
    server = lanner(["-w", "3", "--preload", "misbehaving"])
    zygote = int(server.wait_for(r"Booting zygote with pid: (\d+)").group(1))
    wait_until(lambda: len(re.findall(r"Booting worker with pid", server.output)) == 3, what="3 workers")
    server.request("GET", "/ok")
    workers = [int(p) for p in re.findall(r"Booting worker with pid: (\d+)", server.output)]
    assert server.stop() == 0
    assert pids_alive(workers + [zygote]) == []
