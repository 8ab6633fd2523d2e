"""`python manage.py lanner` and zero-config `lanner` on a real Django project (a copy of the demo)."""

import os
import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from serverkit import DEMO, LANNER, ROOT, VENV_PYTHON, Server
from test_django import admin_login_flow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the demo project, with its database and collected static files."""
    path = tmp_path_factory.mktemp("project") / "demo"
    shutil.copytree(DEMO, path, ignore=shutil.ignore_patterns("db.sqlite3", "staticfiles", "__pycache__"))
    env = {**os.environ, "DEMO_DATABASE": str(path / "db.sqlite3"), "DEMO_STATIC_ROOT": str(path / "staticfiles")}
    for cmd in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run([VENV_PYTHON, "manage.py", *cmd], cwd=path, env=env, check=True)
    subprocess.run([VENV_PYTHON, "manage.py", "shell", "-c",
                    "from django.contrib.auth import get_user_model; "
                    "get_user_model().objects.create_superuser('admin', 'a@example.com', 'lanner-demo')"],
                   cwd=path, env=env, check=True)
    return path


def _start(cmd, cwd, env):
    import serverkit

    server = serverkit.Server.__new__(serverkit.Server)
    server.args = cmd
    server.lines = []
    import threading

    server._cond = threading.Condition()
    server.proc = subprocess.Popen(cmd, cwd=str(cwd), env={**os.environ, **env}, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
    server._reader = threading.Thread(target=server._read, daemon=True)
    server._reader.start()
    server.port = 0
    return server.started()


@pytest.fixture
def started():
    servers = []
    yield servers
    for s in servers:
        s.kill()


def test_manage_py_lanner_serves_the_project_and_its_static_files(project, started):
    server = _start([VENV_PYTHON, "manage.py", "lanner", "-b", "127.0.0.1:0", "-w", "2"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": str(project / "staticfiles")})
    started.append(server)
    admin_login_flow(server)


def test_zero_config_lanner_next_to_manage_py(project, started):
    server = _start([LANNER, "-b", "127.0.0.1:0"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": str(project / "staticfiles")})
    started.append(server)
    resp, body = server.request("GET", "/plain")
    assert (resp.status, body) == (200, b"Hello, World!")
    resp, body = server.request("GET", "/static/admin/css/base.css")
    assert resp.status == 200 and b"DJANGO Admin styles" in body and resp.getheader("ETag")


def test_static_root_unset_says_to_run_collectstatic_once(project, started):
    server = _start([VENV_PYTHON, "manage.py", "lanner", "-b", "127.0.0.1:0"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": ""})
    started.append(server)
    assert server.request("GET", "/plain")[0].status == 200
    notices = [l for l in server.lines if "collectstatic" in l]
    assert len(notices) == 1, server.output
    assert "STATIC_ROOT is not set" in notices[0]


def test_settings_that_do_not_load_exit_3(project):
    result = subprocess.run([LANNER, "-b", "127.0.0.1:0"], cwd=project, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "demo.no_such_settings"})
    assert result.returncode == 3
    assert "cannot load the Django settings 'demo.no_such_settings'" in result.stderr


def test_no_app_module_and_no_manage_py_exits_2(tmp_path):
    result = subprocess.run([LANNER, "-b", "127.0.0.1:0"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "no APP_MODULE given" in result.stderr


def test_reload_picks_up_an_edited_view(project, started, tmp_path):
    copy = tmp_path / "demo"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("__pycache__"))
    server = _start([VENV_PYTHON, "manage.py", "lanner", "-b", "127.0.0.1:0", "--reload"], copy,
                    {"DEMO_DATABASE": str(copy / "db.sqlite3"), "DEMO_STATIC_ROOT": str(copy / "staticfiles")})
    started.append(server)
    server.wait_for(r"Watching .* for changes \(--reload\)")
    assert server.request("GET", "/plain")[1] == b"Hello, World!"
    views = copy / "pages" / "views.py"
    mark = server.line_count()
    edited = time.monotonic()
    views.write_text(views.read_text().replace('"Hello, World!"', '"Hello, reloaded!"'))
    server.wait_for(r"pages/views\.py changed, reloading", start=mark, timeout=10)
    deadline = time.monotonic() + 10
    while server.request("GET", "/plain")[1] != b"Hello, reloaded!":
        assert time.monotonic() < deadline, server.output
        time.sleep(0.05)
    assert time.monotonic() - edited < 3.0


def test_a_static_mount_of_ones_own_adds_to_the_projects(project, started, tmp_path):
    (tmp_path / "x.txt").write_text("extra\n")
    server = _start([LANNER, "-b", "127.0.0.1:0", "--static", f"/extra/={tmp_path}"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": str(project / "staticfiles")})
    started.append(server)
    assert server.request("GET", "/extra/x.txt")[1] == b"extra\n"
    resp, body = server.request("GET", "/static/admin/css/base.css")
    assert resp.status == 200 and b"DJANGO Admin styles" in body


def test_media_says_when_it_cannot_apply(project, started):
    server = _start([LANNER, "-b", "127.0.0.1:0", "--media", "demo.wsgi:application"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": str(project / "staticfiles")})
    started.append(server)
    assert "--media has no effect with an APP_MODULE" in server.output


def test_lanner_media_in_the_environment_reaches_manage_py_lanner(project, started):
    # The demo sets no MEDIA_URL/MEDIA_ROOT, so asking for media gets the notice saying so.
    server = _start([VENV_PYTHON, "manage.py", "lanner", "-b", "127.0.0.1:0"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": str(project / "staticfiles"),
                     "LANNER_MEDIA": "true"})
    started.append(server)
    assert "MEDIA_URL and MEDIA_ROOT" in server.output, server.output
    assert "--media has no effect" not in server.output


def test_media_from_a_config_file_reaches_manage_py_lanner(project, started, tmp_path):
    copy = tmp_path / "demo"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("__pycache__"))
    media = tmp_path / "uploads"
    media.mkdir()
    (media / "upload.txt").write_text("uploaded\n")
    (copy / "demo" / "settings_media.py").write_text(
        f"from .settings import *  # noqa: F403\nMEDIA_URL = '/media/'\nMEDIA_ROOT = {str(media)!r}\n")
    (copy / "lanner.toml").write_text("media = true\n")
    server = _start([VENV_PYTHON, "manage.py", "lanner", "--settings", "demo.settings_media", "-b", "127.0.0.1:0"], copy,
                    {"DEMO_DATABASE": str(copy / "db.sqlite3"), "DEMO_STATIC_ROOT": str(copy / "staticfiles")})
    started.append(server)
    assert server.request("GET", "/media/upload.txt")[1] == b"uploaded\n"
    resp, body = server.request("GET", "/static/admin/css/base.css")
    assert resp.status == 200 and b"DJANGO Admin styles" in body
    assert server.request("GET", "/plain")[1] == b"Hello, World!"
    assert "has no effect" not in server.output


def test_the_project_handover_does_not_reach_the_workers(project, started):
    server = _start([VENV_PYTHON, "manage.py", "lanner", "-b", "127.0.0.1:0", "-w", "1"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": str(project / "staticfiles")})
    started.append(server)
    assert server.request("GET", "/plain")[0].status == 200
    pid = int(re.search(r"Booting worker with pid: (\d+)", server.output).group(1))
    environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    assert any(v.startswith(b"DJANGO_SETTINGS_MODULE=demo.settings") for v in environ)
    assert not any(v.startswith(b"LANNER_DJANGO_PROJECT=") for v in environ)


def test_debug_before_collectstatic_serves_static_files_as_runserver(project, started):
    server = _start([VENV_PYTHON, "manage.py", "lanner", "-b", "127.0.0.1:0"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": "", "DEMO_DEBUG": "1"})
    started.append(server)
    resp, body = server.request("GET", "/static/admin/css/base.css")
    assert resp.status == 200 and b"DJANGO Admin styles" in body
    assert server.request("GET", "/static/admin/css/no-such-file.css")[0].status == 404
    assert server.request("GET", "/plain")[1] == b"Hello, World!"
    notices = [l for l in server.lines if "DEBUG is on and STATIC_ROOT" in l]
    assert len(notices) == 1 and "as runserver does" in notices[0], server.output
    # With DEBUG on, each request is shown and the code reloads, as under runserver.
    server.wait_for(r'"GET /plain HTTP/1\.1" 200 13')
    server.wait_for(rf"Watching {re.escape(str(project))}.* for changes")


def test_runservers_insecure_and_nostatic(project, started):
    # --insecure: the apps' static files through Django with DEBUG off, before any collectstatic.
    server = _start([VENV_PYTHON, "manage.py", "lanner", "-b", "127.0.0.1:0", "--insecure"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": ""})
    started.append(server)
    resp, body = server.request("GET", "/static/admin/css/base.css")
    assert resp.status == 200 and b"DJANGO Admin styles" in body
    assert "--insecure is given and STATIC_ROOT is not set" in server.output
    # --nostatic: nothing at STATIC_URL, though DEBUG is on (Django would serve them).
    server = _start([VENV_PYTHON, "manage.py", "lanner", "-b", "127.0.0.1:0", "--nostatic", "--noreload"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": str(project / "staticfiles"), "DEMO_DEBUG": "1"})
    started.append(server)
    assert server.request("GET", "/static/admin/css/base.css")[0].status == 404
    assert server.request("GET", "/plain")[1] == b"Hello, World!"


def test_debug_serves_an_apps_static_file_as_it_is_now(project, started, tmp_path):
    # As runserver: with DEBUG on, the apps' files, not the copies in STATIC_ROOT of the last
    # collectstatic (which holds none of this one).
    copy = tmp_path / "demo"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("__pycache__"))
    css = copy / "pages" / "static" / "pages" / "site.css"
    css.parent.mkdir(parents=True)
    css.write_text("body { color: red }")
    server = _start([VENV_PYTHON, "manage.py", "lanner", "-b", "127.0.0.1:0", "--noreload"], copy,
                    {"DEMO_DATABASE": str(copy / "db.sqlite3"), "DEMO_STATIC_ROOT": str(copy / "staticfiles"), "DEMO_DEBUG": "1"})
    started.append(server)
    assert server.request("GET", "/static/pages/site.css")[1] == b"body { color: red }"
    css.write_text("body { color: blue }")
    assert server.request("GET", "/static/pages/site.css")[1] == b"body { color: blue }"
    assert server.request("GET", "/static/admin/css/base.css")[0].status == 200


def test_debug_reload_is_off_with_runservers_noreload(project, started):
    server = _start([VENV_PYTHON, "manage.py", "lanner", "-b", "127.0.0.1:0", "--noreload"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": "", "DEMO_DEBUG": "1"})
    started.append(server)
    assert server.request("GET", "/plain")[1] == b"Hello, World!"
    assert "Watching" not in server.output and "workers restart" not in server.output


@pytest.mark.parametrize("args", [["0"], ["127.0.0.1:0"], ["0", "--noreload", "--nothreading"]])
def test_an_address_first_binds_as_under_runserver(project, started, args):
    server = _start([VENV_PYTHON, "manage.py", "lanner", *args, "-w", "1"], project,
                    {"DEMO_DATABASE": str(project / "db.sqlite3"), "DEMO_STATIC_ROOT": str(project / "staticfiles")})
    started.append(server)
    assert re.search(r"Listening at: http://127\.0\.0\.1:\d+ ", server.output)
    assert server.request("GET", "/plain")[1] == b"Hello, World!"


def test_an_argument_lanner_does_not_take_is_the_one_named(project):
    result = subprocess.run([VENV_PYTHON, "manage.py", "lanner", "-w", "1", "8000"], cwd=project, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "DEMO_DATABASE": str(project / "db.sqlite3"),
                                             "DEMO_STATIC_ROOT": str(project / "staticfiles")})
    assert result.returncode == 2
    assert "'8000'" in result.stderr and "demo.wsgi" not in result.stderr


def test_manage_py_lanner_check_checks_the_project(project, tmp_path):
    # From another directory too: the command then adds --pythonpath, which must not come first.
    for cwd, manage in ((project, "manage.py"), (tmp_path, str(project / "manage.py"))):
        result = subprocess.run([VENV_PYTHON, manage, "lanner", "check"], cwd=cwd, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "DEMO_DATABASE": str(project / "db.sqlite3"),
                                     "DEMO_STATIC_ROOT": str(project / "staticfiles")})
        assert result.returncode == 0, result.stderr
        assert "demo.wsgi:application loads" in result.stdout + result.stderr


def test_debug_reloads_on_an_edit_and_says_its_notices_once(project, started, tmp_path):
    copy = tmp_path / "demo"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("__pycache__"))
    server = _start([VENV_PYTHON, "manage.py", "lanner", "-b", "127.0.0.1:0"], copy,
                    {"DEMO_DATABASE": str(copy / "db.sqlite3"), "DEMO_STATIC_ROOT": "", "DEMO_DEBUG": "1"})
    started.append(server)
    server.wait_for(r"Watching .* for changes")
    views = copy / "pages" / "views.py"
    mark = server.line_count()
    views.write_text(views.read_text().replace('"Hello, World!"', '"Hello, reloaded!"'))
    server.wait_for(r"pages/views\.py changed, reloading", start=mark, timeout=10)
    server.wait_for(r"Reload complete", start=mark, timeout=30)
    assert server.request("GET", "/plain")[1] == b"Hello, reloaded!"
    assert sum("DEBUG is on" in l for l in server.lines) == 2, server.output  # static and reload, once each
