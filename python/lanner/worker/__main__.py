"""``python -m lanner.worker``, and the version guard every worker interpreter runs first.

The rest of the worker needs Python 3.9 or newer (``from __future__ import annotations`` alone
is a SyntaxError before 3.7). This module is imported before any of it, by the master's
bootstrap and by ``python -m lanner.worker``, so it must parse and run on any Python: no
f-strings, no annotations, nothing newer than Python 2.7 understands.
"""

import sys

MIN_PYTHON = (3, 9)

# The exit code of an interpreter too old for the workers: the master knows it as
# WorkerPool.OldPythonExitCode and says why, instead of "the app failed to load".
EXIT_OLD_PYTHON = 6


def python_too_old(version_info=None, executable=None):
    """The line to print when this interpreter (or ``version_info``) is older than MIN_PYTHON; else None."""
    if version_info is None:
        version_info = sys.version_info
    if executable is None:
        executable = sys.executable or "this interpreter"
    if tuple(version_info[:2]) >= MIN_PYTHON:
        return None
    return "lanner: the workers need Python %d.%d or newer; %s is %s" % (
        MIN_PYTHON[0], MIN_PYTHON[1], executable, ".".join([str(part) for part in version_info[:3]]))


def require_python(version_info=None, executable=None):
    """Exits with EXIT_OLD_PYTHON and one line on stderr when the interpreter is too old."""
    message = python_too_old(version_info, executable)
    if message is not None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
        sys.exit(EXIT_OLD_PYTHON)


if __name__ == "__main__":
    require_python()
    from lanner.worker.main import main

    main()
