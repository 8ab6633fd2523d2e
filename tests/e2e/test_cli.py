"""The lanner command: flags, exit codes and the lines operators know."""

import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from serverkit import APPS, LANNER


def run(*args, timeout=30):
    return subprocess.run([LANNER, *args], cwd=APPS, capture_output=True, text=True, timeout=timeout)


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"lanner \(version \d+\.\d+\.\d+\)\n", result.stdout)


def test_help_lists_the_gunicorn_flags():
    result = run("--help")
    assert result.returncode == 0
    for flag in ("-b, --bind", "-w, --workers", "--threads", "--chdir", "--pythonpath", "--python", "APP_MODULE"):
        assert flag in result.stdout, flag


def test_unknown_flag_exits_2_with_one_clear_line():
    result = run("--no-such-flag", "hello")
    assert result.returncode == 2
    assert "--no-such-flag" in result.stderr


def test_invalid_value_names_the_setting_and_what_it_accepts():
    result = run("-w", "many", "hello")
    assert result.returncode == 2
    assert "--workers: invalid value 'many' (expected a positive integer)" in result.stderr


def test_invalid_bind_is_refused():
    result = run("-b", "127.0.0.1:99999", "hello")
    assert result.returncode == 2
    assert "the port must be a number from 0 to 65535" in result.stderr


def test_missing_app_module_exits_2():
    result = run()
    assert result.returncode == 2
    assert "APP_MODULE" in result.stderr


def test_app_that_cannot_import_exits_3_quickly_with_its_traceback_once():
    started = time.monotonic()
    result = run("-b", "127.0.0.1:0", "-w", "3", "broken_import", timeout=30)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert elapsed < 10, f"took {elapsed:.1f}s"
    assert output.count("lanner_test_dependency_that_does_not_exist") >= 1
    assert output.count("Traceback (most recent call last)") == 1, output
    assert "Reason: App failed to load." in output
    # No respawn storm: at most the workers asked for were started.
    assert output.count("Booting worker with pid") <= 3


def test_missing_module_is_named(lanner):
    result = run("-b", "127.0.0.1:0", "no_such_app_module")
    assert result.returncode == 3
    assert "Failed to find application module 'no_such_app_module'" in result.stderr


def test_startup_lines_and_booting_workers(lanner):
    server = lanner(["-w", "2", "hello:app"])
    listening = server.wait_for(r"\[(\d+)\] \[INFO\] Listening at: http://127\.0\.0\.1:(\d+) \((\d+)\)")
    assert listening.group(1) == listening.group(3) == str(server.proc.pid)
    assert int(listening.group(2)) == server.port != 0
    booted = {int(server.wait_for(r"\[(\d+)\] \[INFO\] Booting worker with pid: \1", start=i).group(1)) for i in (0,)}
    resp, body = server.request("GET", "/")
    assert (resp.status, body) == (200, b"Hello, World!")
    lines = [l for l in server.lines if "Booting worker with pid" in l]
    assert len(lines) == 2
    pids = {int(re.search(r"pid: (\d+)", l).group(1)) for l in lines}
    assert pids == set(server.worker_pids())
    assert booted <= pids


def test_unix_socket_bind(lanner, tmp_path):
    path = tmp_path / "lanner.sock"
    server = lanner(["hello"], bind=f"unix:{path}", wait=False)
    server.wait_for(rf"Listening at: unix:{re.escape(str(path))} ")
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(path))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"Hello, World!")


def test_several_binds(lanner):
    server = lanner(["hello"], bind=None, wait=False)
    server.kill()
    server = lanner(["-b", "127.0.0.1:0", "-b", "[::1]:0", "hello"], bind=None, wait=False)
    m = server.wait_for(r"Listening at: http://127\.0\.0\.1:(\d+),http://\[::1\]:(\d+) ")
    for host, port in (("127.0.0.1", m.group(1)), ("::1", m.group(2))):
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        assert data.endswith(b"Hello, World!"), host


def test_port_in_use_is_a_clear_error(lanner):
    first = lanner(["hello"])
    result = run("-b", f"127.0.0.1:{first.port}", "hello")
    assert result.returncode == 1
    assert f"Connection in use: 127.0.0.1:{first.port}" in result.stderr


def test_bind_to_a_host_name_that_does_not_resolve_is_a_clear_error():
    result = run("-b", "no-such-host.invalid:8000", "hello")
    assert result.returncode == 1
    assert "Cannot listen at no-such-host.invalid:8000: cannot resolve the host name 'no-such-host.invalid'" in result.stderr
    assert "Unhandled exception" not in result.stderr and "   at " not in result.stderr


def test_bind_to_a_socket_in_a_missing_directory_is_a_clear_error(tmp_path):
    path = tmp_path / "missing" / "lanner.sock"
    result = run("-b", f"unix:{path}", "hello")
    assert result.returncode == 1
    assert f"Cannot listen at unix:{path}: the directory {path.parent} does not exist" in result.stderr
    assert "   at " not in result.stderr


def test_bind_to_an_address_this_machine_does_not_have_is_one_line_without_a_stack():
    result = run("-b", "192.0.2.1:8000", "hello")  # TEST-NET-1: never a local address
    assert result.returncode == 1
    assert "Cannot listen at 192.0.2.1:8000: Cannot assign requested address" in result.stderr
    assert "Hosting failed" not in result.stderr and "   at " not in result.stderr


@pytest.mark.parametrize("preload", [[], ["--preload"]])
def test_a_python_that_is_not_python_exits_3_with_a_clear_reason(preload):
    # /bin/true exits 0 at once: the worker (or the zygote) never connects.
    result = run("-b", "127.0.0.1:0", "--python", "/bin/true", *preload, "hello", timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "the interpreter /bin/true exited with exit code 0 before it connected (is --python a Python 3 interpreter?)" in output
    assert "Reason: App failed to load." in output
    assert output.count("Booting") <= 2, output  # no respawn loop


# A stand-in for an old interpreter: this Python with sys.version_info made to look like 3.6.15, running
# the master's `-c CODE ARG...` as python would.
OLD_PYTHON = f"""#!{sys.executable}
import collections, sys
sys.version_info = collections.namedtuple("version_info", "major minor micro releaselevel serial")(3, 6, 15, "final", 0)
if sys.argv[1:2] != ["-c"]:
    sys.exit("this stand-in only runs -c CODE")
code, sys.argv = sys.argv[2], ["-c"] + sys.argv[3:]
exec(compile(code, "<string>", "exec"), {{"__name__": "__main__"}})
"""


@pytest.fixture
def python36(tmp_path):
    path = tmp_path / "python3.6"
    path.write_text(OLD_PYTHON)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("preload", [[], ["--preload"]])
def test_a_python_older_than_3_9_is_named_as_the_reason(python36, preload):
    result = run("-b", "127.0.0.1:0", "--python", str(python36), *preload, "hello", timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    # The worker's own line, then the master's reason: not a SyntaxError, not "is --python a Python 3 interpreter?".
    assert re.search(r"^lanner: the workers need Python 3\.9 or newer; \S+ is 3\.6\.15$", output, re.M), output
    assert f"Failed to load the app hello: the workers need Python 3.9 or newer; the interpreter {python36} is older (exit code 6)" in output
    assert "before it connected" not in output and "SyntaxError" not in output and "Traceback" not in output
    assert output.count("Booting") <= 2, output  # no respawn loop


def test_check_names_a_python_older_than_3_9(python36):
    result = run("check", "--python", str(python36), "hello")
    assert result.returncode == 3, result.stdout + result.stderr
    assert re.search(r"^lanner: the workers need Python 3\.9 or newer; \S+ is 3\.6\.15$", result.stderr, re.M), result.stderr
    assert f"lanner: error: the app hello was not loaded: {python36} is too old for the workers" in result.stderr
    assert "Configuration OK." not in result.stdout


def test_check_needs_the_apps_report_not_only_a_zero_exit():
    result = run("check", "--python", "/bin/true", "validated")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Configuration OK." not in result.stdout
    assert ("lanner: error: /bin/true ran and exited with exit code 0, but did not report loading the app validated "
            "(is --python a Python 3 interpreter?)") in result.stderr


@pytest.mark.parametrize("args", [
    ["--certfile", "/nonexistent.pem"],
    ["--certfile", "{cert}", "--keyfile", "/nonexistent-key.pem"],
    ["--certfile", "{cert}"],  # no --keyfile, and no key in the certificate's file
    ["--keyfile", "{key}"],
    ["--cert-reqs", "2"],
    ["--ca-certs", "{cert}"],
    ["--certfile", "{cert}", "--keyfile", "{key}", "--cert-reqs", "2", "--ca-certs", "/nonexistent-ca.pem"],
    ["--certfile", "{cert}", "--keyfile", "{key}", "--cert-reqs", "2", "--ca-certs", "{empty}"],
])
def test_check_refuses_the_tls_settings_the_server_refuses_in_the_same_words(certs, tmp_path, args):
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    args = [a.format(cert=certs / "cert.pem", key=certs / "key.pem", empty=empty) for a in args]
    server = run("-b", "127.0.0.1:0", *args, "validated")
    check = run("check", *args, "validated")
    assert server.returncode == 1, server.stderr
    assert check.returncode == 1, check.stdout + check.stderr
    reason = re.search(r"Error: (.+)$", server.stderr, re.M).group(1)
    assert check.stderr == f"lanner: error: {reason}\n"
    assert check.stdout == ""


def test_check_accepts_a_certificate_the_server_accepts(certs):
    for args in (["--certfile", str(certs / "cert.pem"), "--keyfile", str(certs / "key.pem")],
                 ["--certfile", str(certs / "both.pem"), "--cert-reqs", "2", "--ca-certs", str(certs / "cert.pem")]):
        result = run("check", *args, "validated")
        assert result.returncode == 0, result.stderr
        assert result.stdout.endswith("Configuration OK.\n")


def test_request_limits_answer_414_and_431(lanner):
    server = lanner(["--limit-request-line", "100", "--limit-request-fields", "5", "--limit-request-field_size", "50", "hello"])

    def status(path="/", fields=()):
        head = f"GET {path} HTTP/1.1\r\nHost: t\r\n" + "".join(f"{f}\r\n" for f in fields) + "Connection: close\r\n\r\n"
        return server.raw(head.encode()).split(b" ", 2)[1]

    assert status("/" + "a" * 80) == b"200"  # a request line of 94 characters
    assert status("/" + "a" * 90) == b"414"  # 104
    assert status(fields=["A: 1", "B: 2", "C: 3"]) == b"200"  # five fields with Host and Connection
    assert status(fields=["A: 1", "B: 2", "C: 3", "D: 4"]) == b"431"
    assert status(fields=["X-Long: " + "v" * 40]) == b"200"
    assert status(fields=["X-Long: " + "v" * 60]) == b"431"


def test_pidfile_holds_the_master_pid_while_it_runs(lanner, tmp_path):
    pidfile = tmp_path / "lanner.pid"
    server = lanner(["-p", str(pidfile), "hello"])
    assert pidfile.read_text().strip() == str(server.proc.pid)
    server.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0
    assert not pidfile.exists()


def test_a_relative_pythonpath_is_relative_to_chdir_as_in_gunicorn(lanner, tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "elsewhere.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'found in lib']\n")
    server = lanner(["--chdir", str(tmp_path), "--pythonpath", "lib", "elsewhere:app"])  # started from tests/apps
    resp, body = server.request("GET", "/")
    assert (resp.status, body) == (200, b"found in lib")
