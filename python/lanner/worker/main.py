"""Worker boot: connect to the master, say hello, take the configuration, load the app, serve."""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import socket
import sys
import threading
import time
import traceback

from lanner.worker import _protocol as P
from lanner.worker.appload import AppLoadError, load_app
from lanner.worker.connection import Connection, ConnectionLost, ProtocolError

# Exit codes the master understands (see docs/protocol.md).
EXIT_OK = 0
EXIT_BOOT_ERROR = 3  # gunicorn's "App failed to load"
EXIT_PROTOCOL = 4
EXIT_MASTER_GONE = 5


class _Stop(Exception):
    """Raised by the TERM handler to leave an idle wait."""


def main() -> None:
    path = os.environ.pop("LANNER_SOCKET", None)
    token = os.environ.pop("LANNER_TOKEN", "")
    worker_id = int(os.environ.pop("LANNER_WORKER_ID", "0"))
    role = os.environ.pop("LANNER_ROLE", "worker")
    if not path:
        sys.stderr.write("lanner.worker is started by the lanner master, not by hand.\n")
        sys.exit(2)

    # Ctrl-C in a terminal reaches the whole process group; the master decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with _exit_on_connection_failure(worker_id):
        conn = connect(path, token, worker_id, "zygote" if role == "zygote" else "wsgi")
        config = read_config(conn)
        apply_scheduling(config.get("scheduling"), worker_id)
        booted = _boot(conn, config, worker_id, zygote=role == "zygote")
        if booted is None:
            sys.exit(EXIT_BOOT_ERROR)
        app, hooks = booted
        if role == "zygote":
            from lanner.worker.zygote import run_zygote

            run_zygote(conn, app, path, token, hooks)
        else:
            serve(conn, app, config, hooks)
    sys.exit(EXIT_OK)


@contextlib.contextmanager
def _exit_on_connection_failure(worker_id: int):
    """The master gone, or speaking nonsense: exit at once with the code that says which."""
    try:
        yield
    except ConnectionLost:
        os._exit(EXIT_MASTER_GONE)
    except ProtocolError as exc:
        sys.stderr.write(f"lanner worker {worker_id} (pid {os.getpid()}): protocol error: {exc}\n")
        os._exit(EXIT_PROTOCOL)


def connect(path: str, token: str, worker_id: int, interface: str) -> Connection:
    """Connects to the master and says hello; exits quietly if the master is gone."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sys.stderr.write(f"lanner worker {worker_id}: cannot reach the master at {path}: {exc}\n")
        os._exit(EXIT_MASTER_GONE)
    conn = Connection(sock)
    hello = {
        "version": P.VERSION,
        "pid": os.getpid(),
        "worker": worker_id,
        "token": token,
        "interface": interface,
        "python": sys.version.split()[0],
    }
    conn.send_frame(P.HELLO, 0, 0, marshal.dumps(hello))  # ConnectionLost from here on: the master is gone
    return conn


# How much nicer than the master a worker is under --cpu-scheduling batch (docs/decisions/0004).
WORKER_NICE = 4


def apply_scheduling(policy: str | None, worker_id: int) -> None:
    """--cpu-scheduling batch: SCHED_BATCH, so that this worker, when a request wakes it, does not
    pre-empt the master or another worker, and a niceness WORKER_NICE above the one it started
    with (the master's), so that the master, which every request and response passes through,
    gets the CPU first when they compete (docs/decisions/0004-cpu-scheduling.md). Set here, before
    the app is imported, so that every thread the app starts, and every child a zygote forks, has
    it whoever started this interpreter."""
    if policy != "batch" or not hasattr(os, "SCHED_BATCH"):
        return
    try:
        if os.sched_getscheduler(0) not in (os.SCHED_OTHER, os.SCHED_BATCH):
            return  # a policy chosen by whoever started Lanner (chrt, systemd)
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError as exc:
        sys.stderr.write(f"lanner worker {worker_id}: cannot switch to SCHED_BATCH ({exc}); the normal policy stays\n")
    try:
        os.nice(WORKER_NICE)
    except OSError as exc:
        sys.stderr.write(f"lanner worker {worker_id}: cannot lower its priority ({exc}); it keeps the master's\n")


def read_config(conn: Connection) -> dict:
    ftype, _flags, _stream, payload = conn.read_frame_blocking()
    if ftype != P.CONFIG:
        raise ProtocolError(f"expected the configuration, got frame type 0x{ftype:02x}")
    return marshal.loads(payload)


def serve(conn: Connection, app, config: dict, hooks=None) -> None:
    _watch_parent()
    threads = int(config.get("threads", 1))
    if threads > 1:
        _serve_threaded(conn, app, config, threads, hooks)
    else:
        _serve_sync(conn, app, config, hooks)
    if hooks is not None:
        hooks.worker.alive = False
        hooks.call_logged("worker_exit", hooks.server, hooks.worker)


def run_forked(path: str, token: str, worker_id: int, app, hooks=None) -> None:
    """In a worker forked by the zygote: the app is already loaded; connect and serve."""
    with _exit_on_connection_failure(worker_id):
        conn = connect(path, token, worker_id, "wsgi")
        config = read_config(conn)
        _enable_stack_dumps(config.get("dump_path"))
        if hooks is not None:
            from lanner.worker.hooks import HookError

            hooks.forked()
            hooks.log_to(conn)
            hooks.worker.age = hooks.worker.id = worker_id
            try:
                hooks.call("post_fork", hooks.server, hooks.worker)
                hooks.call("post_worker_init", hooks.worker)
            except HookError as exc:
                _send_boot_error(conn, str(exc), exc.traceback)
                os._exit(EXIT_BOOT_ERROR)
            hooks.install_signal_hooks()
        conn.send_frame(P.READY, 0, 0, b"")
        serve(conn, app, config, hooks)


def _enable_stack_dumps(path: str | None) -> None:
    """faulthandler writes the Python stack of every thread to ``path`` on SIGUSR1 (the master
    asks for it when a request times out, even if a pure-Python loop holds the GIL) and on a fatal
    signal such as SIGSEGV (the master logs it with the crash)."""
    if not path:
        return
    import faulthandler

    dump = open(path, "w")  # kept open for the life of the process, as faulthandler requires
    faulthandler.enable(file=dump, all_threads=True)
    faulthandler.register(signal.SIGUSR1, file=dump, all_threads=True, chain=False)


def _boot(conn: Connection, config: dict, worker_id: int = 0, zygote: bool = False):
    """Applies the configuration, runs the boot hooks and loads the app; returns (app, hooks), or
    on failure tells the master why and returns None. A zygote leaves the hooks to its children."""
    _enable_stack_dumps(config.get("dump_path"))
    hooks = None
    try:
        chdir = config.get("chdir")
        if chdir:
            os.chdir(chdir)
        # Like gunicorn: the working directory first on sys.path, then --pythonpath entries.
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
        for i, extra in enumerate(config.get("pythonpath", ())):
            if extra not in sys.path:
                sys.path.insert(i, extra)
        for key, value in config.get("env", {}).items():
            os.environ[key] = value
        if config.get("hook_config"):
            import json

            from lanner.worker.hooks import WorkerHooks

            hooks = WorkerHooks(config["hook_config"], json.loads(config.get("hook_settings") or "{}"), worker_id)
            hooks.log_to(conn)
            if not zygote:
                hooks.call("post_fork", hooks.server, hooks.worker)
        app = load_app(config["app"])
        if hooks is not None:
            hooks.worker.app = hooks.worker.wsgi = app
            if not zygote:
                hooks.call("post_worker_init", hooks.worker)
                hooks.install_signal_hooks()
    except AppLoadError as exc:
        _send_boot_error(conn, str(exc), exc.traceback)
        return None
    except Exception as exc:  # a failing hook, a bug of ours or a broken configuration: still say it clearly
        hook_tb = getattr(exc, "traceback", None)
        if isinstance(hook_tb, str):  # lanner.worker.hooks.HookError
            _send_boot_error(conn, str(exc), hook_tb)
        else:
            _send_boot_error(conn, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        return None
    conn.send_frame(P.READY, 0, 0, b"")
    return app, hooks


def _send_boot_error(conn: Connection, message: str, tb: str) -> None:
    try:
        conn.send_frame(P.BOOT_ERROR, 0, 0, marshal.dumps({"message": message, "traceback": tb}))
    except (OSError, ConnectionLost):
        pass


def _board(config: dict):
    from lanner.worker.wsgi import Board

    path = config.get("board_path")
    return Board(path, max(1, int(config.get("threads", 1)))) if path else None


def _serve_sync(conn: Connection, app, config: dict, hooks=None) -> None:
    from lanner.worker.wsgi import WsgiHandler

    handler = WsgiHandler(conn, app, config, _board(config), hooks)
    handle = handler.handle
    pending = conn.pending
    state = {"idle": False}

    def on_term(signum, frame):
        conn.stopping = True
        if state["idle"]:
            raise _Stop()

    def on_urg(signum, frame):
        # The master wants back what waits behind a slow request (a Reclaim frame is waiting on
        # the socket). Inside the app, take it now; anywhere else the loop reads it soon anyway.
        if state["in_app"] and conn.io_depth == 0:
            conn.poll()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGURG, on_urg)
    read_once = conn.read_once
    state["in_app"] = False
    try:
        while True:
            if pending:
                req = pending.popleft()
                state["in_app"] = True
                try:
                    handle(req)
                finally:
                    state["in_app"] = False
                continue
            if conn.stopping:
                return
            state["idle"] = True
            try:
                read_once(True)
            finally:
                state["idle"] = False
    except _Stop:
        return


def _serve_threaded(conn: Connection, app, config: dict, threads: int, hooks=None) -> None:
    """``--threads N``: a reader thread routes frames; N request threads run the app."""
    import queue

    from lanner.worker.wsgi import WsgiHandler

    conn.threaded = True
    conn._wlock = threading.Lock()
    conn._cond = threading.Condition()
    handler = WsgiHandler(conn, app, config, _board(config), hooks)
    jobs: queue.SimpleQueue = queue.SimpleQueue()
    stop_marker = object()
    conn.on_request = jobs.put
    failure: list[BaseException] = []
    stopped = [False]

    def reclaim() -> list[int]:
        taken, kept = [], []
        while True:
            try:
                item = jobs.get_nowait()
            except queue.Empty:
                break
            if item is stop_marker:
                kept.append(item)
            else:
                taken.append(item.stream)
        for item in kept:
            jobs.put(item)
        return taken

    def on_stop() -> None:
        # SimpleQueue.put is safe from a signal handler. The markers queue up behind the
        # requests already received, so those are served first.
        if not stopped[0]:
            stopped[0] = True
            for _ in range(threads):
                jobs.put(stop_marker)

    conn.on_reclaim = reclaim
    conn.on_stop = on_stop

    def run(slot: int) -> None:
        while True:
            item = jobs.get()
            if item is stop_marker:
                return
            try:
                handler.handle(item, slot)
            except BaseException as exc:  # the master connection failed
                failure.append(exc)
                return

    def read_loop() -> None:
        try:
            while True:
                conn.read_once(True)
        except BaseException as exc:
            failure.append(exc)

    def on_term(signum, frame):
        conn.stopping = True
        on_stop()

    signal.signal(signal.SIGTERM, on_term)
    pool = [threading.Thread(target=run, args=(i,), name=f"lanner-request-{i}", daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    threading.Thread(target=read_loop, name="lanner-reader", daemon=True).start()
    while not failure and any(t.is_alive() for t in pool):
        for t in pool:
            t.join(0.25)
            if failure:
                break
    if failure and isinstance(failure[0], (ConnectionLost, ProtocolError)):
        raise failure[0]


def _watch_parent() -> None:
    """Exits when the master is gone even if the app is stuck and never reads the socket again."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(EXIT_MASTER_GONE)

    threading.Thread(target=watch, name="lanner-parent-watch", daemon=True).start()
