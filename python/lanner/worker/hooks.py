"""gunicorn's server hooks, read from a gunicorn.conf.py.

The worker-side hooks (post_fork, post_worker_init, pre_request, post_request, worker_exit,
worker_int, worker_abort) run inside each worker; the master-side ones (on_starting, when_ready,
on_reload, pre_fork, child_exit, nworkers_changed, on_exit) run in a helper process the master
starts for them (``lanner.worker.hooks.main`` with CONFIG as its argument), which reads one JSON command per
line and answers one JSON line each.

The objects handed to the hooks stand in for gunicorn's Arbiter, Worker, Request and Response:
they carry the attributes hooks commonly use (``pid``, ``cfg``, ``log``, ``age``, ``method``,
``path``, ``headers``, ``status`` …), not gunicorn's internals.
"""

from __future__ import annotations

import inspect
import json
import os
import runpy
import sys
import time
import traceback
from types import SimpleNamespace
from typing import Any, Callable

WORKER_HOOKS = ("post_fork", "post_worker_init", "pre_request", "post_request", "worker_exit", "worker_int", "worker_abort")
MASTER_HOOKS = ("on_starting", "on_reload", "when_ready", "pre_fork", "child_exit", "nworkers_changed", "on_exit")


class HookError(Exception):
    """A hook (or the config file defining it) raised; the message names it, with the traceback."""

    def __init__(self, message: str, tb: str) -> None:
        super().__init__(message)
        self.traceback = tb


class Log:
    """``server.log`` / ``worker.log``. With a sink, a line goes to the master, which writes it to
    the error log under --log-level as its own lines; without one (or when the master cannot be
    reached) it is written on stderr in the same format."""

    def __init__(self, pid: int | None = None, sink: Callable[[str, str], None] | None = None) -> None:
        self._pid = pid
        self._sink = sink

    def _write(self, level: str, msg: Any, *args: Any) -> None:
        text = str(msg) % args if args else str(msg)
        if self._sink is not None:
            try:
                self._sink(level, text)
                return
            except (OSError, ValueError):
                pass
        stamp = time.strftime("[%Y-%m-%d %H:%M:%S %z]")
        sys.stderr.write(f"{stamp} [{self._pid or os.getpid()}] [{level}] {text}\n")
        sys.stderr.flush()

    def debug(self, msg: Any, *args: Any, **_: Any) -> None:
        self._write("DEBUG", msg, *args)

    def info(self, msg: Any, *args: Any, **_: Any) -> None:
        self._write("INFO", msg, *args)

    def warning(self, msg: Any, *args: Any, **_: Any) -> None:
        self._write("WARNING", msg, *args)

    warn = warning

    def error(self, msg: Any, *args: Any, **_: Any) -> None:
        self._write("ERROR", msg, *args)

    def critical(self, msg: Any, *args: Any, **_: Any) -> None:
        self._write("CRITICAL", msg, *args)

    def exception(self, msg: Any, *args: Any, **_: Any) -> None:
        text = str(msg) % args if args else str(msg)
        self._write("ERROR", "%s", text + "\n" + traceback.format_exc().rstrip())


class Config(SimpleNamespace):
    """``server.cfg``: the effective settings by gunicorn's names (``cfg.workers``, ``cfg.bind`` …)."""

    def __getattr__(self, name: str) -> Any:  # a setting the master did not send: None, as unset
        if name.startswith("__"):
            raise AttributeError(name)
        return None


def load(path: str) -> dict[str, Callable]:
    """Runs the config file and returns the hooks it defines; raises HookError if it fails."""
    try:
        namespace = runpy.run_path(path, run_name="__config__")
    except BaseException as exc:  # noqa: BLE001 - the user's file: report whatever it raised
        raise HookError(f"{path}: {type(exc).__name__}: {exc}", traceback.format_exc()) from None
    return {name: fn for name in WORKER_HOOKS + MASTER_HOOKS if callable(fn := namespace.get(name))}


def accepts(fn: Callable, count: int) -> bool:
    """Whether ``fn`` can be called with ``count`` positional arguments (True when Python cannot tell).
    The master's reader of gunicorn.conf.py (src/Lanner.Cli/PythonConfigFile.cs) has a copy, which
    refuses a hook at start by the same rule."""
    try:
        inspect.signature(fn).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature to read (some built-ins): let the call decide
        pass
    return True


def post_request_adapter(fn: Callable | None) -> Callable | None:
    """gunicorn accepts ``post_request(worker, req)`` and ``(worker, req, environ)`` as well as the
    full ``(worker, req, environ, resp)``; the worker always calls with four."""
    if fn is None or accepts(fn, 4):
        return fn
    if accepts(fn, 3):
        return lambda worker, req, environ, _resp: fn(worker, req, environ)
    return lambda worker, req, _environ, _resp: fn(worker, req)


class WorkerHooks:
    """The hooks a worker runs, with the stand-ins they are called with."""

    def __init__(self, path: str, settings: dict, worker_id: int) -> None:
        self.path = path
        self.hooks = load(path)
        self.cfg = Config(**settings)
        self.server = SimpleNamespace(pid=os.getppid(), cfg=self.cfg, log=Log(os.getppid()), num_workers=settings.get("workers"))
        self.worker = SimpleNamespace(
            pid=os.getpid(), ppid=os.getppid(), age=worker_id, id=worker_id, cfg=self.cfg, log=Log(), alive=True, booted=False,
            aborted=False, app=None, wsgi=None, nr=0, max_requests=settings.get("max_requests"), timeout=settings.get("timeout"),
        )
        self.pre_request = self.hooks.get("pre_request")
        self.post_request = post_request_adapter(self.hooks.get("post_request"))

    def before(self, environ: dict) -> None:
        """Before the app is called: pre_request (its failure fails the request, as in gunicorn)."""
        self.worker.nr += 1
        if self.pre_request is not None:
            environ["lanner.hook_request"] = req = request_view(environ)
            self.pre_request(self.worker, req)

    def after(self, environ: dict, status: str | None, headers: list | None) -> None:
        """After the response went out: post_request; its failure is logged."""
        if self.post_request is None:
            return
        req = environ.get("lanner.hook_request") or request_view(environ)
        try:
            self.post_request(self.worker, req, environ, response_view(status, headers))
        except Exception:  # noqa: BLE001
            self.worker.log.exception("the post_request hook failed")

    def forked(self) -> None:
        """In the process that will serve: its own pid. Its ppid stays the master's, as under
        gunicorn, although with --preload the process that forked it is the zygote."""
        self.worker.pid = os.getpid()
        self.worker.ppid = self.server.pid
        self.worker.log = Log()

    def log_to(self, conn: Any) -> None:
        """``server.log`` and ``worker.log`` write through the worker's connection to the master."""
        from lanner.worker import _protocol as P

        levels = {"DEBUG": P.LOG_DEBUG, "INFO": P.LOG_INFO, "WARNING": P.LOG_WARNING, "ERROR": P.LOG_ERROR, "CRITICAL": P.LOG_CRITICAL}

        def sink(level: str, text: str) -> None:
            conn.send_log(0, levels.get(level, P.LOG_INFO), text)

        self.server.log = Log(self.server.pid, sink)
        self.worker.log = Log(None, sink)

    def call(self, name: str, *args: Any) -> None:
        """Runs hook ``name`` if the file defines it; raises HookError when it fails."""
        fn = self.hooks.get(name)
        if fn is None:
            return
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001
            raise HookError(f"the {name} hook failed: {type(exc).__name__}: {exc}", traceback.format_exc()) from None

    def call_logged(self, name: str, *args: Any) -> None:
        """Runs a hook whose failure must not stop anything: the traceback goes to the log."""
        try:
            self.call(name, *args)
        except HookError as exc:
            self.worker.log.error(f"{exc}\n{exc.traceback.rstrip()}")

    def install_signal_hooks(self) -> None:
        import signal

        for signum, name in ((signal.SIGQUIT, "worker_int"), (signal.SIGABRT, "worker_abort")):
            if name in self.hooks:
                previous = signal.getsignal(signum)

                def handler(s, frame, name=name, previous=previous):
                    self.call_logged(name, self.worker)
                    if callable(previous):
                        previous(s, frame)
                    else:
                        os._exit(1)

                signal.signal(signum, handler)


def request_view(environ: dict) -> SimpleNamespace:
    """gunicorn's ``req`` for pre_request/post_request: method, uri, path, query, version, headers."""
    headers = [(k[5:].replace("_", "-"), v) for k, v in environ.items() if k.startswith("HTTP_")]
    for key, name in (("CONTENT_TYPE", "CONTENT-TYPE"), ("CONTENT_LENGTH", "CONTENT-LENGTH")):
        if environ.get(key):
            headers.append((name, environ[key]))
    protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
    try:
        major, minor = (int(x) for x in protocol.split("/", 1)[1].split(".", 1))
        version = (major, minor)
    except (IndexError, ValueError):
        version = (1, 1)
    return SimpleNamespace(
        method=environ.get("REQUEST_METHOD"), uri=environ.get("RAW_URI"), path=environ.get("PATH_INFO"),
        query=environ.get("QUERY_STRING", ""), version=version, headers=headers, scheme=environ.get("wsgi.url_scheme"),
        remote_addr=environ.get("REMOTE_ADDR"),
    )


def response_view(status: str | None, headers: list | None) -> SimpleNamespace:
    code = None
    if status:
        try:
            code = int(str(status).split(None, 1)[0])
        except ValueError:
            pass
    return SimpleNamespace(status=status, status_code=code, headers=headers or [])


def serve_master(path: str, settings: dict) -> int:
    """The master's hook helper: one JSON command per stdin line, one JSON answer per stdout line."""
    out = sys.stdout
    sys.stdout = sys.stderr  # print() in a hook goes to the log, not into the answers
    _outlive_group_signals()
    master_pid = os.getppid()
    cfg = Config(**settings)

    def to_master(level: str, text: str) -> None:
        # Read by the master between the answers: it writes the line to its error log.
        out.write(json.dumps({"log": level, "text": text}) + "\n")
        out.flush()

    server = SimpleNamespace(pid=master_pid, cfg=cfg, log=Log(master_pid, to_master), num_workers=settings.get("workers"), app=None)
    try:
        hooks = load(path)
    except HookError as exc:
        out.write(json.dumps({"error": str(exc), "traceback": exc.traceback}) + "\n")
        out.flush()
        return 1
    out.write(json.dumps({"ready": sorted(hooks)}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        name = command["hook"]
        fn = hooks.get(name)
        answer: dict = {"ok": True}
        if fn is not None:
            if "workers" in command:
                server.num_workers = command["workers"]
            try:
                if name in ("pre_fork", "child_exit"):
                    w = command.get("worker", {})
                    worker = SimpleNamespace(pid=w.get("pid"), age=w.get("id"), id=w.get("id"), cfg=cfg, log=Log(w.get("pid"), to_master),
                                             exitcode=w.get("exitcode"), reason=w.get("reason"))
                    fn(server, worker)
                elif name == "nworkers_changed":
                    fn(server, command["new"], command["old"])
                else:
                    fn(server)
            except BaseException as exc:  # noqa: BLE001
                answer = {"error": f"the {name} hook failed: {type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 0


def _outlive_group_signals() -> None:
    """The helper ends when the master closes its input, never on a signal: Ctrl-C (INT to the
    terminal's process group), systemd's stop (TERM to the whole unit) or a HUP/TTIN/USR1 sent
    to the group must not kill it, or child_exit and on_exit could no longer run as the master
    shuts down. A handler that does nothing, not SIG_IGN, so processes a hook starts get the
    default dispositions back."""
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP", "SIGTTIN", "SIGTTOU", "SIGUSR1", "SIGUSR2"):
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, lambda *_: None)


def main() -> None:
    """Entry point of the helper: the config file is the first argument, the settings come in LANNER_HOOK_SETTINGS."""
    sys.exit(serve_master(sys.argv[1], json.loads(os.environ.get("LANNER_HOOK_SETTINGS", "{}"))))


if __name__ == "__main__":
    main()
