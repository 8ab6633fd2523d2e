"""The ``lanner`` command: starts the Lanner server shipped inside this package.

The server is a compiled .NET program in ``lanner/_server``. This launcher replaces itself with
it (``exec``), telling it which Python the workers should run by default — this one, so the app
sees the packages of the environment lanner was installed into.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
SERVER_DIR = _PACKAGE_DIR / "_server"


def server_command() -> list[str]:
    """The command that runs the server: its native launcher, or ``dotnet lanner.dll``."""
    apphost = SERVER_DIR / "lanner"
    if apphost.is_file():
        if not os.access(apphost, os.X_OK):
            try:
                apphost.chmod(apphost.stat().st_mode | 0o111)
            except OSError:
                pass
        if os.access(apphost, os.X_OK):
            return [str(apphost)]
    dll = SERVER_DIR / "lanner.dll"
    dotnet = shutil.which("dotnet")
    if dll.is_file() and dotnet:
        return [dotnet, str(dll)]
    raise SystemExit(
        f"lanner: error: the Lanner server is not in this installation ({SERVER_DIR}); "
        "reinstall the package from a build that includes it (scripts/setup in the source tree)"
    )


def server_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LANNER_DEFAULT_PYTHON", sys.executable)
    env["LANNER_PACKAGE_PATH"] = str(_PACKAGE_DIR.parent)
    return env


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = server_command()
    os.execve(command[0], command + args, server_environment())


if __name__ == "__main__":
    main()
