"""--preload: a parent that imported the app once and forks the workers on the master's demand.

The forked workers share the app's memory copy-on-write and start in milliseconds. The zygote
reports each worker's pid (SPAWNED) and, as their parent, how each one ended (CHILD_EXIT). A
worker dies with its zygote (PR_SET_PDEATHSIG), so nothing is left behind if the zygote goes.
"""

from __future__ import annotations

import marshal
import os
import select
import signal
import struct
import sys
import traceback

from lanner.worker import _protocol as P
from lanner.worker.connection import Connection, ConnectionLost


def run_zygote(conn: Connection, app, path: str, token: str, hooks=None) -> None:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)  # STOP from the master ends it, once its workers are gone
    children: set[int] = set()
    stopping = False
    me = os.getpid()

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            conn.send_frame(P.CHILD_EXIT, 0, 0, marshal.dumps((pid, os.waitstatus_to_exitcode(status))))

    def spawn(worker_id: int) -> None:
        try:
            pid = os.fork()
        except OSError as exc:
            conn.send_frame(P.SPAWNED, 0, 0, marshal.dumps({"worker": worker_id, "pid": 0, "error": str(exc)}))
            return
        if pid == 0:
            _child(conn, wake_r, wake_w, me, path, token, worker_id, app, hooks)
        children.add(pid)
        conn.send_frame(P.SPAWNED, 0, 0, marshal.dumps({"worker": worker_id, "pid": pid}))

    while not (stopping and not children):
        readable, _, _ = select.select([conn.sock, wake_r], [], [])
        if wake_r in readable:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            reap()
        if conn.sock in readable:
            frame = conn.read_frame_blocking()
            while frame is not None:
                ftype, _flags, _stream, payload = frame
                if ftype == P.SPAWN:
                    spawn(struct.unpack("<I", payload)[0])
                elif ftype == P.STOP:
                    stopping = True
                frame = conn.buffered_frame()
        reap()


def _child(conn: Connection, wake_r: int, wake_w: int, zygote: int, path: str, token: str, worker_id: int, app, hooks=None) -> None:
    """Runs in the forked worker; never returns."""
    code = 0
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.close(wake_r)
        os.close(wake_w)
        conn.sock.close()
        _die_with_parent()
        if os.getppid() != zygote:
            os._exit(5)
        from lanner.worker.main import run_forked

        run_forked(path, token, worker_id, app, hooks)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except ConnectionLost:
        code = 5
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the kernel kills this worker if the zygote dies (Linux)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
