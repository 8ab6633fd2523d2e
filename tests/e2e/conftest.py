"""Fixtures of the end-to-end tests (helpers in serverkit.py)."""

import os
import subprocess
from pathlib import Path

import pytest

from serverkit import APPS, DEMO, LANNER, VENV_PYTHON, Server


@pytest.fixture
def lanner():
    """Starts servers for a test and kills whatever is left of them afterwards."""
    servers: list[Server] = []

    def start(args: list[str], cwd: Path = APPS, env: dict | None = None, bind: str | None = "127.0.0.1:0", wait: bool = True,
              prefix: list[str] = ()) -> Server:
        """``prefix`` runs lanner under another command (e.g. chrt)."""
        server = Server(args, cwd, env, bind, command=[*prefix, LANNER] if prefix else None)
        servers.append(server)
        return server.started() if wait else server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory):
    """The demo Django site with a fresh database and collected static files, in a temp dir."""
    work = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "DEMO_DATABASE": str(work / "db.sqlite3"), "DEMO_STATIC_ROOT": str(work / "static")}
    for cmd in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run([VENV_PYTHON, "manage.py", *cmd], cwd=DEMO, env=env, check=True)
    subprocess.run(
        [VENV_PYTHON, "manage.py", "shell", "-c",
         "from django.contrib.auth import get_user_model; "
         "get_user_model().objects.create_superuser('admin', 'a@example.com', 'lanner-demo')"],
        cwd=DEMO, env=env, check=True,
    )
    return {"env": {"DEMO_DATABASE": env["DEMO_DATABASE"], "DEMO_STATIC_ROOT": env["DEMO_STATIC_ROOT"]},
            "static": work / "static"}


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: cert.pem, key.pem, and both.pem holding the two."""
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        check=True, capture_output=True)
    (d / "both.pem").write_text((d / "cert.pem").read_text() + (d / "key.pem").read_text())
    return d
