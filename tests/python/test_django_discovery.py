"""lanner.django.discovery: what a Django project's settings tell Lanner."""

import subprocess
import sys
import textwrap

import pytest

from workerkit import ROOT
from lanner.django.discovery import settings_module_of


def test_settings_module_of_reads_the_setdefault_call(tmp_path):
    manage = tmp_path / "manage.py"
    manage.write_text("import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings.prod')\n")
    assert settings_module_of(manage) == "shop.settings.prod"


def test_settings_module_of_without_one(tmp_path):
    manage = tmp_path / "manage.py"
    manage.write_text("print('no settings here')\n")
    assert settings_module_of(manage) is None


def run_with_settings(tmp_path, settings: str, **switches):
    """describe(**switches) under the given settings, in a fresh interpreter."""
    (tmp_path / "proj_settings.py").write_text(textwrap.dedent(settings))
    code = textwrap.dedent(f"""
        import sys, json, os
        sys.path[:0] = [{str(ROOT / 'python')!r}, {str(tmp_path)!r}]
        os.environ["DJANGO_SETTINGS_MODULE"] = "proj_settings"
        import django
        django.setup()
        from lanner.django.discovery import describe
        print(json.dumps(describe(**{switches!r})))
    """)
    out = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, check=True).stdout
    import json
    return json.loads(out)


BASE = "SECRET_KEY = 'x'\nINSTALLED_APPS = []\n"


def test_static_mapping_and_wsgi_app(tmp_path):
    (tmp_path / "collected").mkdir()
    (tmp_path / "collected" / "a.css").write_text("x")
    found = run_with_settings(tmp_path, BASE + f"WSGI_APPLICATION = 'proj.wsgi.application'\n"
                              f"STATIC_URL = 'static/'\nSTATIC_ROOT = {str(tmp_path / 'collected')!r}\n")
    assert found["app"] == "proj.wsgi:application"
    assert found["args"] == ["--static", f"/static/={tmp_path / 'collected'}"]
    assert found["notices"] == []
    assert found["settings"] == "proj_settings"


def test_static_root_unset_is_one_clear_notice(tmp_path):
    found = run_with_settings(tmp_path, BASE + "STATIC_URL = '/static/'\n")
    assert found["app"] == "lanner.django.wsgi:application"
    assert found["args"] == []
    notices = found["notices"]
    assert len(notices) == 1 and "STATIC_ROOT is not set" in notices[0] and "collectstatic" in notices[0]


def test_empty_static_root_asks_for_collectstatic(tmp_path):
    (tmp_path / "empty").mkdir()
    found = run_with_settings(tmp_path, BASE + f"STATIC_URL = '/s/'\nSTATIC_ROOT = {str(tmp_path / 'empty')!r}\n")
    assert found["args"] == ["--static", f"/s/={tmp_path / 'empty'}"]
    assert "is empty" in found["notices"][0]


def test_cdn_static_url_is_not_served(tmp_path):
    found = run_with_settings(tmp_path, BASE + "STATIC_URL = 'https://cdn.example.com/static/'\nSTATIC_ROOT = '/x'\n")
    assert found["args"] == [] and found["notices"] == []


def test_media_is_described_apart_from_static(tmp_path):
    found = run_with_settings(tmp_path, BASE + "STATIC_URL = 'https://cdn/'\nMEDIA_URL = '/media/'\nMEDIA_ROOT = '/srv/media'\n")
    assert found["args"] == []
    assert found["media_args"] == ["--static", "/media/=/srv/media"]
    assert found["media_notices"] == []


def test_media_unset_or_on_the_static_url_says_why(tmp_path):
    found = run_with_settings(tmp_path, BASE + "STATIC_URL = '/static/'\nSTATIC_ROOT = '/x'\n")
    assert found["media_args"] == [] and "MEDIA_URL and MEDIA_ROOT" in found["media_notices"][0]
    found = run_with_settings(tmp_path, BASE + "STATIC_URL = '/s/'\nSTATIC_ROOT = '/x'\nMEDIA_URL = '/s/'\nMEDIA_ROOT = '/m'\n")
    assert found["media_args"] == [] and "must differ from STATIC_URL" in found["media_notices"][0]


DEBUG_STATIC = "DEBUG = True\nSECRET_KEY = 'x'\nINSTALLED_APPS = ['django.contrib.staticfiles']\nSTATIC_URL = '/static/'\n"


def test_debug_without_collected_files_serves_them_through_django_as_runserver(tmp_path):
    found = run_with_settings(tmp_path, DEBUG_STATIC + "WSGI_APPLICATION = 'proj.wsgi.application'\n")
    assert found["app"] == "lanner.django.debug_static:application"
    assert found["args"] == []  # no mount: it would answer 404 before Django is asked
    (notice,) = found["notices"]
    assert "DEBUG is on and STATIC_ROOT is not set" in notice and "runserver" in notice and "collectstatic" in notice


def test_debug_with_an_empty_static_root_serves_them_through_django_too(tmp_path):
    (tmp_path / "empty").mkdir()
    found = run_with_settings(tmp_path, DEBUG_STATIC + f"STATIC_ROOT = {str(tmp_path / 'empty')!r}\n")
    assert found["app"] == "lanner.django.debug_static:application" and found["args"] == []
    assert "STATIC_ROOT is empty" in found["notices"][0]


def test_debug_with_collected_files_serves_the_apps_files_too(tmp_path):
    # As runserver: the apps' files as they are now, not the copies of the last collectstatic.
    (tmp_path / "collected").mkdir()
    (tmp_path / "collected" / "a.css").write_text("x")
    found = run_with_settings(tmp_path, DEBUG_STATIC + f"STATIC_ROOT = {str(tmp_path / 'collected')!r}\n")
    assert found["app"] == "lanner.django.debug_static:application" and found["args"] == []
    (notice,) = found["notices"]
    assert notice.startswith("DEBUG is on: Django serves /static/") and "STATIC_ROOT is" not in notice


def test_debug_without_the_staticfiles_app_changes_nothing(tmp_path):
    found = run_with_settings(tmp_path, "DEBUG = True\n" + BASE + "STATIC_URL = '/static/'\n")
    assert found["app"] == "lanner.django.wsgi:application"
    assert "STATIC_ROOT is not set" in found["notices"][0]


def test_runservers_nostatic_leaves_the_static_url_to_the_app(tmp_path):
    found = run_with_settings(tmp_path, DEBUG_STATIC + "WSGI_APPLICATION = 'proj.wsgi.application'\n", nostatic=True)
    assert found["app"] == "proj.wsgi:application"
    assert found["args"] == [] and found["notices"] == []
    (tmp_path / "collected").mkdir()
    (tmp_path / "collected" / "a.css").write_text("x")
    found = run_with_settings(tmp_path, BASE + f"STATIC_URL = '/static/'\nSTATIC_ROOT = {str(tmp_path / 'collected')!r}\n", nostatic=True)
    assert found["args"] == [] and found["notices"] == []


def test_runservers_insecure_serves_them_through_django_with_debug_off(tmp_path):
    settings = DEBUG_STATIC.replace("DEBUG = True", "DEBUG = False") + "ALLOWED_HOSTS = ['*']\n"
    found = run_with_settings(tmp_path, settings, insecure=True)
    assert found["app"] == "lanner.django.debug_static:application" and found["args"] == []
    (notice,) = found["notices"]
    assert "--insecure is given and STATIC_ROOT is not set" in notice
    # Without it, DEBUG off is production: the master's mount or nothing, as before.
    found = run_with_settings(tmp_path, settings)
    assert found["app"] == "lanner.django.wsgi:application" and "STATIC_ROOT is not set" in found["notices"][0]
