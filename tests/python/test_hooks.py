"""gunicorn's server hooks: loading a gunicorn.conf.py, the worker-side calls and the master's helper."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lanner.worker import hooks

PACKAGE = Path(__file__).resolve().parents[2] / "python"

CONFIG = '''
import os
calls = []
workers = 3
def on_starting(server):
    calls.append(("on_starting", server.cfg.workers, server.num_workers))
    print("on_starting ran")  # goes to stderr in the helper, never into its answers
def pre_fork(server, worker):
    calls.append(("pre_fork", worker.id))
def child_exit(server, worker):
    calls.append(("child_exit", worker.pid, worker.exitcode, worker.reason))
def nworkers_changed(server, new, old):
    calls.append(("nworkers_changed", new, old, server.num_workers))
def when_ready(server):
    raise ValueError("not ready on purpose")
def on_exit(server):
    with open(os.environ["HOOK_CALLS"], "w") as f:
        import json
        json.dump(calls, f)
def pre_request(worker, req):
    worker.seen = (req.method, req.path, req.query, req.version, dict(req.headers).get("X-TRACE"))
def post_request(worker, req, environ, resp):
    worker.done = (resp.status_code, environ["PATH_INFO"])
not_a_hook = 1
'''


def write_config(tmp_path: Path, text: str = CONFIG) -> str:
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(text)
    return str(path)


def test_load_returns_only_the_hooks_the_file_defines(tmp_path):
    found = hooks.load(write_config(tmp_path))
    assert set(found) == {"on_starting", "pre_fork", "child_exit", "nworkers_changed", "when_ready", "on_exit", "pre_request", "post_request"}


def test_load_reports_a_failing_file_with_its_traceback(tmp_path):
    path = write_config(tmp_path, "import nowhere_to_be_found\n")
    with pytest.raises(hooks.HookError) as failed:
        hooks.load(path)
    assert "ModuleNotFoundError" in str(failed.value) and path in str(failed.value)
    assert "import nowhere_to_be_found" in failed.value.traceback


def test_worker_hooks_see_the_request_and_the_response(tmp_path):
    worker_hooks = hooks.WorkerHooks(write_config(tmp_path), {"workers": 3, "max_requests": 10}, worker_id=7)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/a b", "QUERY_STRING": "x=1", "SERVER_PROTOCOL": "HTTP/1.0",
               "HTTP_X_TRACE": "t-1", "CONTENT_TYPE": "text/plain"}
    worker_hooks.before(environ)
    worker_hooks.after(environ, "201 Created", [("X-A", "1")])
    assert worker_hooks.worker.seen == ("POST", "/a b", "x=1", (1, 0), "t-1")
    assert worker_hooks.worker.done == (201, "/a b")
    assert worker_hooks.worker.nr == 1
    assert worker_hooks.worker.id == worker_hooks.worker.age == 7
    assert worker_hooks.cfg.workers == 3 and worker_hooks.cfg.not_sent is None


def test_a_failing_post_request_is_logged_not_raised(tmp_path, capsys):
    path = write_config(tmp_path, "def post_request(worker, req, environ, resp):\n    raise KeyError('oops')\n")
    worker_hooks = hooks.WorkerHooks(path, {}, worker_id=1)
    worker_hooks.after({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, "200 OK", [])
    err = capsys.readouterr().err
    assert "[ERROR] the post_request hook failed" in err and "KeyError: 'oops'" in err


def test_a_failing_hook_names_itself(tmp_path):
    worker_hooks = hooks.WorkerHooks(write_config(tmp_path, "def post_fork(server, worker):\n    1/0\n"), {}, worker_id=1)
    with pytest.raises(hooks.HookError, match=r"the post_fork hook failed: ZeroDivisionError"):
        worker_hooks.call("post_fork", worker_hooks.server, worker_hooks.worker)
    worker_hooks.call("not_defined_here", None)  # a hook the file lacks is no error


def run_helper(config: str, commands: list[dict], env: dict) -> tuple[list[dict], str]:
    code = f"import sys; sys.path.insert(0, {str(PACKAGE)!r}); from lanner.worker.hooks import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, config], input="".join(json.dumps(c) + "\n" for c in commands),
        capture_output=True, text=True, timeout=30, env={**os.environ, **env},
    )
    return [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def test_master_helper_runs_each_command_and_answers_each(tmp_path):
    calls_file = tmp_path / "calls.json"
    answers, stderr = run_helper(write_config(tmp_path), [
        {"hook": "on_starting", "workers": 3},
        {"hook": "pre_fork", "workers": 3, "worker": {"id": 4, "pid": None}},
        {"hook": "when_ready", "workers": 3},
        {"hook": "child_exit", "workers": 3, "worker": {"id": 4, "pid": 1234, "exitcode": 1, "reason": "exit code 1"}},
        {"hook": "nworkers_changed", "workers": 4, "new": 4, "old": 3},
        {"hook": "post_fork", "workers": 4},  # a worker hook: not the helper's business, answered ok
        {"hook": "on_exit", "workers": 4},
    ], {"LANNER_HOOK_SETTINGS": json.dumps({"workers": 3}), "HOOK_CALLS": str(calls_file)})

    assert answers[0]["ready"] == ["child_exit", "nworkers_changed", "on_exit", "on_starting", "post_request", "pre_fork", "pre_request", "when_ready"]
    assert answers[1:3] == [{"ok": True}, {"ok": True}]
    assert answers[3]["error"] == "the when_ready hook failed: ValueError: not ready on purpose"
    assert "raise ValueError" in answers[3]["traceback"]
    assert answers[4:] == [{"ok": True}] * 4
    assert "on_starting ran" in stderr
    assert json.loads(calls_file.read_text()) == [
        ["on_starting", 3, 3], ["pre_fork", 4], ["child_exit", 1234, 1, "exit code 1"], ["nworkers_changed", 4, 3, 4],
    ]


def test_master_helper_reports_a_config_file_that_fails(tmp_path):
    answers, _ = run_helper(write_config(tmp_path, "raise RuntimeError('bad config')\n"), [{"hook": "on_starting"}], {})
    assert len(answers) == 1
    assert "RuntimeError: bad config" in answers[0]["error"]
    assert "raise RuntimeError('bad config')" in answers[0]["traceback"]


@pytest.mark.parametrize("params, expect", [
    ("worker, req", ("GET", None)),
    ("worker, req, environ", ("GET", "/p")),
    ("worker, req, environ, resp", ("GET", "/p", 204)),
    ("*args", ("GET", "/p", 204)),
])
def test_post_request_may_take_two_three_or_four_arguments_as_in_gunicorn(tmp_path, params, expect):
    body = {
        "worker, req": "worker.done = (req.method, None)",
        "worker, req, environ": "worker.done = (req.method, environ['PATH_INFO'])",
        "worker, req, environ, resp": "worker.done = (req.method, environ['PATH_INFO'], resp.status_code)",
        "*args": "args[0].done = (args[1].method, args[2]['PATH_INFO'], args[3].status_code)",
    }[params]
    path = write_config(tmp_path, f"def post_request({params}):\n    {body}\n")
    worker_hooks = hooks.WorkerHooks(path, {}, worker_id=1)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/p", "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1"}
    worker_hooks.before(environ)
    worker_hooks.after(environ, "204 No Content", [])
    assert worker_hooks.worker.done == expect
