"""Configuration end to end: every source (gunicorn.conf.py, lanner.toml, pyproject.toml, the
environment, the command line) through the real `lanner`, in gunicorn's order of precedence and
as --print-config reports it; bad input; the server hooks of a gunicorn.conf.py observed in a
running server; and `lanner check`.

Where gunicorn has the behaviour, the expectation is gunicorn's own: a parity test runs the
Debian `gunicorn` (20.1) on the same files and variables and compares the effective values.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from serverkit import APPS, LANNER

# Variables that are configuration sources: removed from the environment of every run here so
# that only what a test sets counts.
SOURCE_VARIABLES = ("GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "PORT", "FORWARDED_ALLOW_IPS")


def clean_env(**variables: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANNER_") and k not in SOURCE_VARIABLES}
    env.update(variables)
    return env


def run(args: list[str], cwd: Path = APPS, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([LANNER, *args], cwd=str(cwd), env=env if env is not None else clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def parse_print_config(stdout: str) -> dict[str, tuple[str, str]]:
    """--print-config lines, `name = value  # source`, as {name: (value, source)}."""
    table = {}
    for line in stdout.splitlines():
        head, sep, source = line.rpartition(" # ")
        name, eq, value = head.partition(" = ")
        assert sep and eq, f"not a --print-config line: {line!r}"
        table[name.strip()] = (value.strip(), source.strip())
    return table


def print_config(args: list[str], cwd: Path = APPS, env: dict | None = None) -> dict[str, tuple[str, str]]:
    result = run(["--print-config", *args], cwd, env)
    assert result.returncode == 0, result.stderr
    table = parse_print_config(result.stdout)
    assert "workers" in table and "bind" in table and "APP_MODULE" in table, result.stdout
    return table


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


GUNICORN_CONF = """
    import multiprocessing  # modules and other names of the file's own are not settings
    helper_value = "ignored"

    def _double(n):
        return 2 * n

    bind = "127.0.0.1:9001"
    workers = _double(1) + 1
    threads = 2
    timeout = 12.5
    graceful_timeout = 7
    accesslog = "{accesslog}"
    access_log_format = '%(h)s "%(r)s" %(s)s'
    max_requests = 100
    max_requests_jitter = 10
    raw_env = ["CONF_A=1", "CONF_B=two"]
    loglevel = "debug"
    preload_app = True
    forwarded_allow_ips = "*"
    secure_scheme_headers = {{"X-FORWARDED-PROTO": "https"}}
"""


# ---- 1. sources, precedence and --print-config ------------------------------------------------------


def test_gunicorn_conf_values_and_their_source(tmp_path):
    conf = write(tmp_path / "gunicorn.conf.py", GUNICORN_CONF.format(accesslog=tmp_path / "access.log"))
    table = print_config(["-c", str(conf), "hello"])
    from_conf = f"config file ({conf})"
    assert table["config"] == (str(conf), "command line")
    expected = {
        "bind": "127.0.0.1:9001", "workers": "3", "threads": "2", "timeout": "12.5", "graceful_timeout": "7",
        "accesslog": str(tmp_path / "access.log"), "access_log_format": '%(h)s "%(r)s" %(s)s',
        "max_requests": "100", "max_requests_jitter": "10", "raw_env": "CONF_A=1,CONF_B=two", "loglevel": "debug",
        "preload_app": "true", "forwarded_allow_ips": "*", "secure_scheme_headers": "X-FORWARDED-PROTO=https",
    }
    assert {name: table[name] for name in expected} == {name: (value, from_conf) for name, value in expected.items()}
    # What the file did not set keeps its default; its own names are not settings.
    assert table["keepalive"] == ("5", "default")
    assert table["backlog"] == ("2048", "default")
    assert "helper_value" not in table and "multiprocessing" not in table
    assert table["APP_MODULE"][0] == "hello"


def test_precedence_follows_gunicorn(tmp_path):
    """defaults < $WEB_CONCURRENCY/$PORT < config file < LANNER_<NAME> < $GUNICORN_CMD_ARGS <
    $LANNER_CMD_ARGS < command line, each value reported with its source."""
    conf = write(tmp_path / "gunicorn.conf.py", """
        bind = "127.0.0.1:9001"
        workers = 3
        threads = 2
        timeout = 12
        max_requests = 100
        loglevel = "debug"
        keepalive = 9
        backlog = 64
    """)
    env = clean_env(
        WEB_CONCURRENCY="5", PORT="7000",
        LANNER_TIMEOUT="44", LANNER_MAX_REQUESTS="200", LANNER_KEEPALIVE="11", LANNER_GRACEFUL_TIMEOUT="21",
        GUNICORN_CMD_ARGS="-w 7 -b 127.0.0.1:7007 --threads 5 --max-requests 300 --graceful-timeout 22 --log-level info",
        LANNER_CMD_ARGS="--threads 9 --log-level warning",
    )
    table = print_config(["-c", str(conf), "-w", "8", "--log-level", "error", "hello"], env=env)
    from_conf = f"config file ({conf})"
    assert table["workers"] == ("8", "command line")
    assert table["loglevel"] == ("error", "command line")
    assert table["threads"] == ("9", "environment ($LANNER_CMD_ARGS)")
    assert table["bind"] == ("127.0.0.1:7007", "environment ($GUNICORN_CMD_ARGS)")
    assert table["max_requests"] == ("300", "environment ($GUNICORN_CMD_ARGS)")
    assert table["graceful_timeout"] == ("22", "environment ($GUNICORN_CMD_ARGS)")
    assert table["timeout"] == ("44", "environment ($LANNER_TIMEOUT)")
    assert table["keepalive"] == ("11", "environment ($LANNER_KEEPALIVE)")
    assert table["backlog"] == ("64", from_conf)
    assert table["max_queue"] == ("2048", "default")


def test_web_concurrency_and_port_change_defaults_only(tmp_path):
    """As gunicorn: $WEB_CONCURRENCY and $PORT are defaults, so a config file still wins over them."""
    env = clean_env(WEB_CONCURRENCY="5", PORT="7000", FORWARDED_ALLOW_IPS="10.0.0.1")
    table = print_config(["hello"], cwd=tmp_path, env=env)
    assert table["config"] == ("(none)", "default")
    assert table["workers"] == ("5", "environment ($WEB_CONCURRENCY)")
    assert table["bind"] == ("0.0.0.0:7000", "environment ($PORT)")
    assert table["forwarded_allow_ips"] == ("10.0.0.1", "environment ($FORWARDED_ALLOW_IPS)")

    conf = write(tmp_path / "gunicorn.conf.py", """
        workers = 3
        bind = ["127.0.0.1:9001", "127.0.0.1:9002"]
    """)
    table = print_config(["hello"], cwd=tmp_path, env=env)
    assert table["workers"] == ("3", f"config file ({conf})")
    assert table["bind"] == ("127.0.0.1:9001,127.0.0.1:9002", f"config file ({conf})")
    # -b on the command line replaces the file's list (gunicorn's append action belongs to one source).
    table = print_config(["-b", "127.0.0.1:9003", "hello"], cwd=tmp_path, env=env)
    assert table["bind"] == ("127.0.0.1:9003", "command line")


GUNICORN = "/usr/bin/python3"


def gunicorn_config(args: list[str], cwd: Path, env: dict) -> dict[str, str]:
    """The real gunicorn's --print-config (`name = repr`), as {name: text in Lanner's format}."""
    result = subprocess.run([GUNICORN, "-m", "gunicorn", "--print-config", *args], cwd=str(cwd), env=env,
                            capture_output=True, text=True, timeout=60)
    values = {}
    for line in result.stdout.splitlines():
        name, eq, value = line.partition(" = ")
        if eq:
            values[name.strip()] = value.strip()
    assert "workers" in values, result.stdout + result.stderr
    bind = ast.literal_eval(values["bind"])
    return {"workers": values["workers"], "threads": values["threads"], "bind": ",".join(bind),
            "max_requests": values["max_requests"], "timeout": values["timeout"], "loglevel": values["loglevel"]}


PARITY_CASES = {
    "environment defaults alone": ({"WEB_CONCURRENCY": "5", "PORT": "7000"}, None, []),
    "config file over environment defaults": ({"WEB_CONCURRENCY": "5", "PORT": "7000"}, "workers = 3\nbind = '127.0.0.1:9001'\n", []),
    "GUNICORN_CMD_ARGS over the file, command line over both": (
        {"WEB_CONCURRENCY": "5", "GUNICORN_CMD_ARGS": "-w 7 -b 127.0.0.1:7007 --threads 4 --timeout 9"},
        "workers = 3\nthreads = 2\nmax_requests = 100\ntimeout = 12\nloglevel = 'debug'\n", ["-w", "8", "--max-requests", "5"]),
    "a -b replaces the file's binds": ({}, "bind = ['127.0.0.1:9001', '127.0.0.1:9002']\n", ["-b", "127.0.0.1:9003"]),
    "GUNICORN_CMD_ARGS names the config file": ({"GUNICORN_CMD_ARGS": "-c other.conf.py"}, "workers = 3\n", []),
}


@pytest.mark.skipif(subprocess.run([GUNICORN, "-c", "import gunicorn"], capture_output=True).returncode != 0,
                    reason="Debian's gunicorn is not installed")
@pytest.mark.parametrize("case", list(PARITY_CASES))
def test_effective_values_match_gunicorn(tmp_path, case):
    variables, conf, args = PARITY_CASES[case]
    (tmp_path / "hello.py").write_text((APPS / "hello.py").read_text())
    if conf is not None:
        (tmp_path / "gunicorn.conf.py").write_text(conf)
    (tmp_path / "other.conf.py").write_text("workers = 6\nthreads = 3\n")
    env = clean_env(**variables)
    expected = gunicorn_config([*args, "hello:app"], tmp_path, env)
    table = print_config([*args, "hello:app"], cwd=tmp_path, env=env)
    assert {name: table[name][0] for name in expected} == expected


def test_toml_files_and_default_discovery(tmp_path):
    """No -c: ./lanner.toml, else [tool.lanner] in ./pyproject.toml, else ./gunicorn.conf.py."""
    gunicorn_conf = write(tmp_path / "gunicorn.conf.py", "workers = 7\n")
    table = print_config([], cwd=tmp_path)
    assert table["config"] == (str(gunicorn_conf), "config file (found in the working directory)")
    assert table["workers"] == ("7", f"config file ({gunicorn_conf})")

    # A pyproject.toml without [tool.lanner] is not a config file.
    pyproject = write(tmp_path / "pyproject.toml", """
        [project]
        name = "site"
    """)
    assert print_config([], cwd=tmp_path)["config"][0] == str(gunicorn_conf)

    write(pyproject, """
        [project]
        name = "site"

        [tool.lanner]
        workers = 4
        max-requests = 50
        timeout = 2.5
        preload_app = true
        bind = ["127.0.0.1:7001", "unix:/tmp/lanner-test.sock"]
        raw_env = ["X=1", "Y=2"]
        wsgi_app = "hello:app"
    """)
    table = print_config([], cwd=tmp_path)
    from_pyproject = f"config file ({pyproject})"
    assert table["config"] == (str(pyproject), "config file (found in the working directory)")
    assert table["workers"] == ("4", from_pyproject)
    assert table["max_requests"] == ("50", from_pyproject)  # a dashed key is the setting's name
    assert table["timeout"] == ("2.5", from_pyproject)
    assert table["preload_app"] == ("true", from_pyproject)
    assert table["bind"] == ("127.0.0.1:7001,unix:/tmp/lanner-test.sock", from_pyproject)
    assert table["raw_env"] == ("X=1,Y=2", from_pyproject)
    assert table["wsgi_app"] == ("hello:app", from_pyproject)
    assert table["APP_MODULE"][0] == "hello:app"
    # APP_MODULE on the command line wins over wsgi_app.
    assert print_config(["envdump"], cwd=tmp_path)["APP_MODULE"][0] == "envdump"

    lanner_toml = write(tmp_path / "lanner.toml", "workers = 6\n")
    table = print_config([], cwd=tmp_path)
    assert table["config"] == (str(lanner_toml), "config file (found in the working directory)")
    assert table["workers"] == ("6", f"config file ({lanner_toml})")
    assert table["max_requests"] == ("0", "default")  # one file only: the pyproject.toml is not read

    # -c, $LANNER_CONFIG and -c in $GUNICORN_CMD_ARGS name another file instead (a relative -c: from the cwd).
    other = write(tmp_path / "other.py", "workers = 2\n")
    for args, env, source in (
        (["-c", "other.py"], clean_env(), "command line"),
        ([], clean_env(LANNER_CONFIG=str(other)), "environment ($LANNER_CONFIG)"),
        ([], clean_env(GUNICORN_CMD_ARGS="-c other.py"), "environment ($GUNICORN_CMD_ARGS)"),
    ):
        table = print_config(args, cwd=tmp_path, env=env)
        assert table["config"] == (str(other), source), args
        assert table["workers"] == ("2", f"config file ({other})"), args


def test_gunicorn_conf_runs_in_the_current_directory_as_under_gunicorn(tmp_path):
    """gunicorn runs the file in the working directory, with it on sys.path; a file named with -c
    from elsewhere must see the same os.getcwd() and imports."""
    (tmp_path / "deploy").mkdir()
    write(tmp_path / "site_settings.py", "WORKERS = 4\n")
    conf = write(tmp_path / "deploy" / "gunicorn.conf.py", """
        import os
        import site_settings
        workers = site_settings.WORKERS
        accesslog = os.path.join(os.getcwd(), "access.log")
    """)
    table = print_config(["-c", "deploy/gunicorn.conf.py", "hello"], cwd=tmp_path)
    assert table["workers"] == ("4", f"config file ({conf})")
    assert table["accesslog"] == (str(tmp_path / "access.log"), f"config file ({conf})")


def test_config_file_values_reach_the_running_server(lanner, tmp_path):
    access_log = tmp_path / "access.log"
    conf = write(tmp_path / "gunicorn.conf.py", f"""
        bind = "127.0.0.1:1"  # the command line's -b (the fixture's port 0) wins
        workers = 2
        accesslog = "{access_log}"
        access_log_format = "conf-format %(m)s %(U)s %(s)s"
        raw_env = ["CONF_A=1", "CONF_B=two words"]
    """)
    server = lanner(["-c", str(conf), "envdump"], env={"LANNER_THREADS": "2"})
    resp, body = server.request("GET", "/env?name=CONF_A&name=CONF_B")
    assert resp.status == 200
    seen = json.loads(body)
    assert seen["env"] == {"CONF_A": "1", "CONF_B": "two words"}
    deadline = time.monotonic() + 20
    while len(server.worker_pids()) != 2:
        assert time.monotonic() < deadline, server.output
        time.sleep(0.05)
    assert seen["pid"] in server.worker_pids()
    deadline = time.monotonic() + 10
    while "conf-format" not in (access_log.read_text() if access_log.exists() else ""):
        assert time.monotonic() < deadline, "no access log line"
        time.sleep(0.05)
    assert "conf-format GET /env 200" in access_log.read_text().splitlines()


# ---- 2. bad input: exit 2 and one clear line ----------------------------------------------------------


def assert_one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2, nothing on stdout, one `lanner: error:` line holding every fragment, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("lanner: error: ")]
    assert len(errors) == 1, result.stderr
    others = [line for line in result.stderr.splitlines() if line not in errors]
    assert others in ([], ["Run 'lanner --help' to see the options."]), result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


@pytest.mark.parametrize("args, fragments", [
    (["--no-such-flag", "hello"], ["unrecognized option '--no-such-flag'"]),
    (["--threads", "0", "hello"], ["--threads: invalid value '0' (expected a positive integer)"]),
    (["--timeout", "soon", "hello"], ["--timeout: invalid value 'soon' (expected a number of seconds (0 disables))"]),
    (["--max-requests", "-3", "hello"], ["--max-requests: invalid value '-3'", "a non-negative integer"]),
    (["-b", "127.0.0.1:99999", "hello"], ["--bind: invalid value '127.0.0.1:99999'", "the port must be a number from 0 to 65535"]),
    (["--chdir", "/no/such/dir", "hello"], ["--chdir: invalid value '/no/such/dir' (expected an existing directory)"]),
    (["--python", "/no/such/python3", "hello"], ["--python: invalid value '/no/such/python3' (expected a Python interpreter"]),
    (["--python", "no-such-python-on-path", "hello"], ["--python: invalid value 'no-such-python-on-path'"]),
])
def test_bad_command_line(args, fragments):
    assert_one_error_line(run(args), *fragments)


@pytest.mark.parametrize("variables, fragments", [
    ({"LANNER_WORKERS": "many"}, ["$LANNER_WORKERS: --workers: invalid value 'many' (expected a positive integer)"]),
    ({"LANNER_PRELOAD_APP": "maybe"}, ["$LANNER_PRELOAD_APP: --preload: invalid value 'maybe' (expected true or false)"]),
    ({"WEB_CONCURRENCY": "lots"}, ["$WEB_CONCURRENCY: --workers: invalid value 'lots' (expected a positive integer)"]),
    ({"PORT": "http"}, ["$PORT: --bind: invalid value '0.0.0.0:http'", "the port must be a number from 0 to 65535"]),
    ({"GUNICORN_CMD_ARGS": "--threads 0"}, ["$GUNICORN_CMD_ARGS: --threads: invalid value '0' (expected a positive integer)"]),
    ({"LANNER_CMD_ARGS": "--bogus"}, ["$LANNER_CMD_ARGS: unrecognized option '--bogus'"]),
    ({"GUNICORN_CMD_ARGS": "-w '3"}, ["$GUNICORN_CMD_ARGS:", "quote"]),
])
def test_bad_environment(variables, fragments):
    assert_one_error_line(run(["hello"], env=clean_env(**variables)), *fragments)


@pytest.mark.parametrize("name, text, fragments", [
    ("gunicorn.conf.py", "workers = 'many'\n", ["--workers: invalid value 'many' (expected a positive integer)"]),
    ("gunicorn.conf.py", "timeout = -5\n", ["--timeout: invalid value '-5'", "a number of seconds"]),
    ("gunicorn.conf.py", "bind = ['127.0.0.1:8000', 'localhost:http']\n", ["--bind: invalid value", "localhost:http"]),
    ("lanner.toml", "workers = 0\n", ["--workers: invalid value '0' (expected a positive integer)"]),
    ("lanner.toml", "wrokers = 2\n", ["unknown setting 'wrokers'"]),
    ("lanner.toml", "workers = [\n", ["not valid TOML"]),
    ("pyproject.toml", "[tool.lanner]\nthreads = 'some'\n", ["--threads: invalid value 'some' (expected a positive integer)"]),
])
def test_bad_config_file(tmp_path, name, text, fragments):
    path = tmp_path / name
    path.write_text(text)
    # Named with -c, and found in the working directory: the same line, naming the file.
    assert_one_error_line(run(["-c", str(path), "hello"]), f"{path}: ", *fragments)
    assert_one_error_line(run(["hello"], cwd=tmp_path), f"{path}: ", *fragments)


def test_missing_config_file(tmp_path):
    assert_one_error_line(run(["-c", str(tmp_path / "nowhere.py"), "hello"]), "--config:", "nowhere.py", "does not exist")


@pytest.mark.parametrize("args, conf, env, fragments", [
    (["--worker-class", "gevent"], None, {}, ["--worker-class: 'gevent' is not supported", "sync, or gthread with --threads"]),
    (["-k", "uvicorn.workers.UvicornWorker"], None, {}, ["--worker-class: 'uvicorn.workers.UvicornWorker' is not supported"]),
    (["--daemon"], None, {}, ["--daemon is not supported", "run Lanner in the foreground"]),
    ([], "daemon = True\n", {}, ["--daemon (from ", "gunicorn.conf.py) is not supported", "foreground"]),
    ([], "worker_class = 'eventlet'\n", {}, ["gunicorn.conf.py: --worker-class: 'eventlet' is not supported"]),
    ([], None, {"LANNER_DAEMON": "1"}, ["--daemon (from $LANNER_DAEMON) is not supported"]),
])
def test_refused_gunicorn_settings_explain_why(tmp_path, args, conf, env, fragments):
    if conf is not None:
        args = ["-c", str(write(tmp_path / "gunicorn.conf.py", conf)), *args]
    assert_one_error_line(run([*args, "hello"], env=clean_env(**env)), *fragments)


def test_refused_setting_at_its_default_is_fine(tmp_path):
    conf = write(tmp_path / "gunicorn.conf.py", "daemon = False\nworker_class = 'sync'\n")
    table = print_config(["-c", str(conf), "hello"])
    assert table["daemon"] == ("false", f"config file ({conf})")
    assert table["worker_class"] == ("sync", f"config file ({conf})")


def test_warned_setting_starts_with_a_warning(lanner):
    server = lanner(["--worker-tmp-dir", "/dev/shm", "hello"])
    warning = server.wait_for(r"^lanner: warning: --worker-tmp-dir: (.+)$")
    assert "Ignored" in warning.group(1)
    resp, body = server.request("GET", "/")
    assert (resp.status, body) == (200, b"Hello, World!")


def test_gunicorn_conf_that_raises_shows_its_traceback(tmp_path):
    conf = write(tmp_path / "gunicorn.conf.py", """
        workers = 2
        def compute():
            return {}["missing"]
        threads = compute()
    """)
    for result in (run(["-c", str(conf), "hello"]), run(["--print-config", "hello"], cwd=tmp_path), run(["check", "hello"], cwd=tmp_path)):
        assert result.returncode == 2, result.stderr
        assert f"lanner: error: {conf}: error while running it: KeyError: 'missing'" in result.stderr
        traceback = result.stderr[result.stderr.index("Traceback (most recent call last):"):]
        # The file's own frames, innermost last; not the runner's.
        assert re.search(rf'File "{re.escape(str(conf))}", line 4, in <module>\n +threads = compute\(\)', traceback), traceback
        assert re.search(rf'File "{re.escape(str(conf))}", line 3, in compute\n +return \{{\}}\["missing"\]', traceback), traceback
        assert "runpy" not in traceback
        assert "Listening at" not in result.stdout + result.stderr

    write(conf, "workers = (\n")
    result = run(["-c", str(conf), "hello"])
    assert result.returncode == 2
    assert f"lanner: error: {conf}: error while running it: SyntaxError" in result.stderr


# ---- 3. server hooks in a running server ---------------------------------------------------------------

HOOKS_CONF = """
    import json, os

    workers = 2

    def _log(hook, **fields):
        line = json.dumps({"hook": hook, "pid": os.getpid(), **fields}) + "\\n"
        fd = os.open(os.environ["HOOK_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def on_starting(server):
        _log("on_starting", server_pid=server.pid, workers=server.cfg.workers)

    def when_ready(server):
        _log("when_ready", server_pid=server.pid)

    def pre_fork(server, worker):
        _log("pre_fork", age=worker.age)

    def post_fork(server, worker):
        _log("post_fork", worker_pid=worker.pid, ppid=worker.ppid, age=worker.age, server_pid=server.pid)

    def post_worker_init(worker):
        _log("post_worker_init", worker_pid=worker.pid, age=worker.age, app=callable(worker.wsgi))

    def pre_request(worker, req):
        _log("pre_request", method=req.method, path=req.path, query=req.query)

    def post_request(worker, req, environ, resp):
        _log("post_request", method=req.method, path=req.path, status=resp.status)

    def worker_exit(server, worker):
        _log("worker_exit", worker_pid=worker.pid)

    def child_exit(server, worker):
        _log("child_exit", worker_pid=worker.pid, age=worker.age)

    def nworkers_changed(server, new_value, old_value):
        _log("nworkers_changed", new=new_value, old=old_value)

    def on_reload(server):
        _log("on_reload")

    def on_exit(server):
        _log("on_exit")
"""

MASTER_SIDE = {"on_starting", "when_ready", "pre_fork", "child_exit", "nworkers_changed", "on_reload", "on_exit"}


class HookLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def events(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def named(self, hook: str) -> list[dict]:
        return [e for e in self.events() if e["hook"] == hook]

    def wait(self, predicate, what: str, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events):
                return events
            assert time.monotonic() < deadline, f"{what}: not seen within {timeout}s; hooks so far:\n" + "\n".join(map(str, events))
            time.sleep(0.05)


def count(events: list[dict], hook: str, **fields) -> int:
    return sum(1 for e in events if e["hook"] == hook and all(e.get(k) == v for k, v in fields.items()))


def booted_pids(server) -> set[int]:
    return {int(m) for m in re.findall(r"Booting worker with pid: (\d+)", server.output)}


def check_worker_hooks(events: list[dict], master_pid: int, booted: set[int]) -> set[int]:
    """For every worker: pre_fork in the master's helper, post_fork and post_worker_init in the
    worker's own process (in that order), then worker_exit there and child_exit in the helper."""
    forks = [e for e in events if e["hook"] == "post_fork"]
    pids = {e["pid"] for e in forks}
    assert len(pids) == len(forks), forks
    assert pids == booted
    for fork in forks:
        pid, age = fork["pid"], fork["age"]
        assert fork["worker_pid"] == pid and fork["server_pid"] == master_pid == fork["ppid"], fork
        assert count(events, "pre_fork", age=age) == 1, age
        inits = [i for i, e in enumerate(events) if e["hook"] == "post_worker_init" and e["pid"] == pid]
        assert len(inits) == 1 and events[inits[0]]["worker_pid"] == pid and events[inits[0]]["app"] is True
        assert events.index(fork) < inits[0]
        exits = [i for i, e in enumerate(events) if e["hook"] == "worker_exit" and e["pid"] == pid]
        children = [i for i, e in enumerate(events) if e["hook"] == "child_exit" and e["worker_pid"] == pid]
        assert len(exits) == 1 and len(children) == 1, (pid, exits, children)
        assert inits[0] < exits[0] < children[0]
        assert events[children[0]]["age"] == age
    return pids


def check_master_side(events: list[dict], master_pid: int, workers: set[int]) -> None:
    """The master-side hooks ran in a helper process, neither the master nor a worker: one until
    a reload, which starts a fresh one on the re-read file (gunicorn re-reads its hooks on HUP)."""
    # (Every reload tells the new helper the number of workers just before on_reload.)
    reloads = [i - 1 if events[i - 1]["hook"] == "nworkers_changed" else i for i, e in enumerate(events) if e["hook"] == "on_reload"]
    bounds = [0, *reloads, len(events)]
    helpers = []
    for start, end in zip(bounds, bounds[1:]):
        pids = {e["pid"] for e in events[start:end] if e["hook"] in MASTER_SIDE}
        assert len(pids) == 1, (start, end, pids)
        helpers.append(pids.pop())
    assert len(set(helpers)) == len(helpers), helpers
    assert set(helpers).isdisjoint(workers | {master_pid})
    worker_side = {e["pid"] for e in events if e["hook"] not in MASTER_SIDE}
    assert worker_side <= workers


def test_hooks_run_in_order_with_their_arguments(lanner, tmp_path):
    conf = write(tmp_path / "gunicorn.conf.py", HOOKS_CONF)
    log = HookLog(tmp_path / "hooks.log")
    server = lanner(["-c", str(conf), "hello"], env={"HOOK_LOG": str(log.path)})
    master = server.proc.pid

    events = log.wait(lambda ev: count(ev, "post_worker_init") == 2, "two workers ready")
    # gunicorn's start: the number of workers is set, on_starting, when_ready (the sockets
    # listen), then the workers.
    assert [e["hook"] for e in events[:3]] == ["nworkers_changed", "on_starting", "when_ready"]
    assert (events[1]["server_pid"], events[1]["workers"], events[2]["server_pid"]) == (master, 2, master)
    assert all(e["hook"] in ("pre_fork", "post_fork", "post_worker_init") for e in events[3:])

    resp, body = server.request("GET", "/hooked/path?x=1")
    assert (resp.status, body) == (200, b"Hello, World!")
    resp, _ = server.request("POST", "/form", body=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 200
    events = log.wait(lambda ev: count(ev, "post_request") == 2, "post_request")
    first_pre, second_pre = (e for e in events if e["hook"] == "pre_request")
    first_post, second_post = (e for e in events if e["hook"] == "post_request")
    assert (first_pre["method"], first_pre["path"], first_pre["query"]) == ("GET", "/hooked/path", "x=1")
    assert (first_post["method"], first_post["path"], first_post["status"]) == ("GET", "/hooked/path", "200 OK")
    assert (second_pre["method"], second_pre["path"], second_post["status"]) == ("POST", "/form", "200 OK")
    assert first_pre["pid"] == first_post["pid"] and second_pre["pid"] == second_post["pid"]
    assert events.index(first_pre) < events.index(first_post) < events.index(second_pre) < events.index(second_post)
    assert {first_pre["pid"], second_pre["pid"]} <= booted_pids(server)

    # TTIN: one worker more.
    server.send_signal(signal.SIGTTIN)
    events = log.wait(lambda ev: count(ev, "post_worker_init") == 3, "the third worker")
    assert count(events, "nworkers_changed", new=3, old=2) == 1
    assert count(events, "post_fork", age=3) == 1

    # HUP: on_reload, back to the file's 2 workers, in a new generation; the old three exit.
    server.send_signal(signal.SIGHUP)
    server.wait_for(r"Reload complete")
    events = log.wait(lambda ev: count(ev, "child_exit") == 3 and count(ev, "post_worker_init") == 5, "the reload")
    assert count(events, "on_reload") == 1
    reload_at = next(i for i, e in enumerate(events) if e["hook"] == "on_reload")
    assert {e["age"] for e in events if e["hook"] == "post_fork" and events.index(e) > reload_at} == {4, 5}
    assert count(events, "nworkers_changed", new=2, old=3) == 1
    assert {e["age"] for e in events if e["hook"] == "child_exit"} == {1, 2, 3}

    assert server.stop(signal.SIGTERM) == 0
    events = log.events()
    assert events[-1]["hook"] == "on_exit" and count(events, "on_exit") == 1
    workers = check_worker_hooks(events, master, booted_pids(server))
    assert len(workers) == 5
    check_master_side(events, master, workers)
    assert "Server hook" not in server.output, server.output  # no hook failed or went unrun


def test_hooks_with_preload(lanner, tmp_path):
    conf = write(tmp_path / "gunicorn.conf.py", HOOKS_CONF)
    log = HookLog(tmp_path / "hooks.log")
    server = lanner(["-c", str(conf), "--preload", "hello"], env={"HOOK_LOG": str(log.path)})
    master = server.proc.pid
    zygote = int(server.wait_for(r"Booting zygote with pid: (\d+)").group(1))
    log.wait(lambda ev: count(ev, "post_worker_init") == 2, "two workers ready")
    resp, _ = server.request("GET", "/preloaded")
    assert resp.status == 200
    log.wait(lambda ev: count(ev, "post_request", path="/preloaded", status="200 OK") == 1, "post_request")
    assert server.stop(signal.SIGTERM) == 0
    events = log.events()
    assert [e["hook"] for e in events[:3]] == ["nworkers_changed", "on_starting", "when_ready"]
    assert events[-1]["hook"] == "on_exit"
    # post_fork runs in each forked worker, not in the zygote that imported the app.
    workers = check_worker_hooks(events, master, booted_pids(server))
    assert len(workers) == 2 and zygote not in workers
    assert next(e for e in events if e["hook"] == "pre_request")["pid"] in workers
    check_master_side(events, master, workers | {zygote})
    assert "Server hook" not in server.output, server.output


def test_nworkers_changed_is_called_first_with_old_value_none(lanner, tmp_path):
    """gunicorn's docs: "If the number of workers is set for the first time, old_value would be
    None" -- its arbiter calls nworkers_changed(server, N, None) before on_starting."""
    conf = write(tmp_path / "gunicorn.conf.py", HOOKS_CONF)
    log = HookLog(tmp_path / "hooks.log")
    lanner(["-c", str(conf), "hello"], env={"HOOK_LOG": str(log.path)})
    events = log.wait(lambda ev: count(ev, "when_ready") == 1, "when_ready")
    assert [(e["hook"], e.get("new"), e.get("old")) for e in events[:2]] == [("nworkers_changed", 2, None), ("on_starting", None, None)]


def test_master_hooks_outlive_a_signal_to_the_whole_process_group(lanner, tmp_path):
    """systemd stops a service with SIGTERM to every process of the unit, a terminal's Ctrl-C
    reaches the whole foreground group: child_exit and on_exit must still run."""
    conf = write(tmp_path / "gunicorn.conf.py", HOOKS_CONF)
    log = HookLog(tmp_path / "hooks.log")
    server = lanner(["-c", str(conf), "hello"], env={"HOOK_LOG": str(log.path)})
    started = {e["pid"] for e in log.wait(lambda ev: count(ev, "post_worker_init") == 2, "two workers ready") if e["hook"] == "post_fork"}
    os.killpg(server.proc.pid, signal.SIGTERM)
    assert server.proc.wait(30) == 0
    server.kill()
    events = log.events()
    # (The workers die of the TERM too; the draining pool starts no replacements.)
    ended = [e["worker_pid"] for e in events if e["hook"] == "child_exit"]
    assert sorted(ended) == sorted(started), events
    assert events[-1]["hook"] == "on_exit" and count(events, "on_exit") == 1
    assert "Server hook" not in server.output, server.output


ABORT_CONF = HOOKS_CONF + """
    def worker_abort(worker):
        _log("worker_abort", worker_pid=worker.pid)
"""


@pytest.mark.parametrize("extra", [[], ["--preload"], ["--threads", "2"]], ids=["default", "preload", "threads"])
def test_worker_abort_runs_in_the_worker_whose_request_timed_out(lanner, tmp_path, extra):
    """As under gunicorn's arbiter: a worker past --timeout gets SIGABRT, which runs worker_abort in
    that worker; the client still gets its 504 and the stack is still logged first."""
    conf = write(tmp_path / "gunicorn.conf.py", ABORT_CONF)
    log = HookLog(tmp_path / "hooks.log")
    server = lanner(["-c", str(conf), "-w", "1", "-t", "1", *extra, "misbehaving"], env={"HOOK_LOG": str(log.path)})
    hung = int(server.request("GET", "/ok")[1])
    assert server.request("GET", "/spin")[0].status == 504
    server.wait_for(rf"WORKER TIMEOUT \(pid:{hung}\)")
    server.wait_for(r'File ".*misbehaving\.py", line \d+ in spin_forever')
    log.wait(lambda ev: count(ev, "worker_abort") == 1, "worker_abort")
    assert log.named("worker_abort") == [{"hook": "worker_abort", "pid": hung, "worker_pid": hung}]
    server.wait_for(rf"Booting worker with pid: (?!{hung}\b)\d+")
    replacement = int(server.request("GET", "/ok")[1])
    assert replacement != hung
    assert "Server hook" not in server.output, server.output


def test_on_starting_that_raises_stops_the_start(tmp_path):
    conf = write(tmp_path / "gunicorn.conf.py", """
        def on_starting(server):
            raise RuntimeError("no start today")
    """)
    result = run(["-c", str(conf), "-b", "127.0.0.1:0", "hello"])
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "the on_starting hook failed: RuntimeError: no start today" in output
    assert re.search(rf'File "{re.escape(str(conf))}", line 2, in on_starting\n +raise RuntimeError', output), output
    assert "Listening at" not in output and "Booting worker" not in output


def test_post_fork_that_raises_is_a_worker_boot_error(tmp_path):
    conf = write(tmp_path / "gunicorn.conf.py", """
        def post_fork(server, worker):
            raise RuntimeError(f"worker {worker.age} may not boot")
    """)
    result = run(["-c", str(conf), "-b", "127.0.0.1:0", "-w", "2", "hello"])
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert re.search(r"\[ERROR\] .*the post_fork hook failed: RuntimeError: worker \d may not boot", output), output
    assert re.search(rf'File "{re.escape(str(conf))}", line 2, in post_fork', output), output
    assert "Reason: App failed to load." in output


# ---- 4. lanner check ------------------------------------------------------------------------------------


def test_check_a_good_app():
    result = run(["check", "hello"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("hello loads: ")
    assert result.stdout.endswith("Configuration OK.\n")
    # gunicorn's spelling does the same.
    result = run(["--check-config", "hello:app"])
    assert result.returncode == 0 and "Configuration OK." in result.stdout, result.stderr


def test_check_with_a_config_file(tmp_path):
    conf = write(tmp_path / "gunicorn.conf.py", """
        workers = 2
        wsgi_app = "hello:app"
        raw_env = ["FROM_CONF=1"]
        def post_fork(server, worker):
            pass
    """)
    result = run(["check", "-c", str(conf)])  # the app named by the file
    assert result.returncode == 0, result.stderr
    assert "hello:app loads: " in result.stdout and "Configuration OK." in result.stdout
    result = run(["check", "-c", str(conf), "envdump"])  # the command line's wins
    assert result.returncode == 0 and "envdump loads: " in result.stdout, result.stderr
    # Found in the working directory, naming an app importable from --chdir.
    result = run(["check", "--chdir", str(APPS)], cwd=tmp_path)
    assert result.returncode == 0 and "hello:app loads: " in result.stdout, result.stderr


def test_check_an_app_that_does_not_import():
    result = run(["check", "broken_import"])
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback (most recent call last):" in result.stderr
    assert "ModuleNotFoundError: No module named 'lanner_test_dependency_that_does_not_exist'" in result.stderr
    assert "lanner: error: the app broken_import does not load" in result.stderr
    assert "Configuration OK." not in result.stdout


def test_check_configuration_errors_exit_2(tmp_path):
    assert_one_error_line(run(["check", "-w", "0", "hello"]), "--workers: invalid value '0'")
    conf = write(tmp_path / "gunicorn.conf.py", "threads = 'many'\n")
    assert_one_error_line(run(["check", "-c", str(conf), "hello"]), f"{conf}: --threads: invalid value 'many'")
    assert_one_error_line(run(["check", "--worker-class", "gevent", "hello"]), "--worker-class: 'gevent' is not supported")
    assert_one_error_line(run(["check", "hello"], env=clean_env(LANNER_TIMEOUT="x")), "$LANNER_TIMEOUT: --timeout: invalid value 'x'")


def test_hook_log_lines_go_to_the_error_log_under_the_log_level(lanner, tmp_path):
    """server.log and worker.log in hooks write where the master's lines go, filtered by --log-level,
    as gunicorn's logger does; not straight to stderr."""
    conf = write(tmp_path / "gunicorn.conf.py", """
        def when_ready(server):
            server.log.info("when_ready says hello")
            server.log.debug("when_ready debug detail")

        def post_worker_init(worker):
            worker.log.warning("post_worker_init says hello")
            worker.log.debug("post_worker_init debug detail")
    """)
    errors = tmp_path / "error.log"
    server = lanner(["-c", str(conf), "--error-logfile", str(errors), "--log-level", "info", "hello"], wait=False)
    deadline = time.monotonic() + 30
    while not errors.exists() or "post_worker_init says hello" not in errors.read_text():
        assert time.monotonic() < deadline, errors.read_text() if errors.exists() else "no error log"
        time.sleep(0.05)
    text = errors.read_text()
    assert re.search(r"\[INFO\] when_ready says hello", text), text
    assert re.search(r"\[WARNING\] Worker \d+ \(pid \d+\): post_worker_init says hello", text), text
    assert "debug detail" not in text
    assert "says hello" not in server.output


def test_a_reload_says_which_changed_settings_wait_for_a_restart(lanner, tmp_path):
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("workers = 1\nkeepalive = 5\nmax_requests = 0\n")
    server = lanner(["-c", str(conf), "hello"])
    conf.write_text("workers = 2\nkeepalive = 9\nmax_requests = 100\nforwarded_allow_ips = '10.0.0.1'\n")
    server.send_signal(signal.SIGHUP)
    line = server.wait_for(r"\[WARNING\] Reload: (.*) changed, but the master applies these only as it starts").group(1)
    assert line == "keepalive, forwarded_allow_ips"  # workers and max_requests are applied, so not named
    server.wait_for(r"Reload complete")
    deadline = time.monotonic() + 30
    while len(server.worker_pids()) != 2:
        assert time.monotonic() < deadline, server.output
        time.sleep(0.05)


def test_a_when_ready_that_raises_stops_the_server_with_exit_1(lanner, tmp_path):
    """As gunicorn: a failing when_ready ends the start."""
    conf = write(tmp_path / "gunicorn.conf.py", """
        def when_ready(server):
            raise RuntimeError("when_ready says no")
    """)
    server = lanner(["-c", str(conf), "hello"], wait=False)
    assert server.proc.wait(30) == 1
    server.wait_for(r"Server hook: the when_ready hook failed: RuntimeError: when_ready says no")
    assert "Booting worker" not in server.output
