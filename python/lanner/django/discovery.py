"""What Lanner needs to know of a Django project, read from its settings."""

from __future__ import annotations

import ast
import os
from pathlib import Path


def settings_module_of(manage_py: Path) -> str | None:
    """The DJANGO_SETTINGS_MODULE a manage.py sets by default (its os.environ.setdefault call)."""
    try:
        tree = ast.parse(manage_py.read_text())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setdefault"
            and len(node.args) == 2
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
            and node.args[0].value == "DJANGO_SETTINGS_MODULE"
        ):
            return node.args[1].value
    return None


def _local_prefix(url: str | None) -> str | None:
    """A URL prefix the master can serve ('/static/'), or None for a full URL (a CDN) or nothing."""
    if not url or "://" in url or url.startswith("//"):
        return None
    prefix = url if url.startswith("/") else "/" + url
    return prefix if prefix.endswith("/") else prefix + "/"


def _is_empty_dir(path: str) -> bool:
    try:
        return not any(os.scandir(path))
    except OSError:
        return True


def describe(nostatic: bool = False, insecure: bool = False) -> dict:
    """What the configured Django project gives Lanner, as the master reads it (JSON):
    ``app`` (APP_MODULE), ``args`` (the STATIC_ROOT mount, as lanner arguments), ``notices``,
    and the MEDIA_ROOT mount apart (``media_args``, ``media_notices``), for the master to add
    when the ``media`` setting, from wherever it comes, asks for it; ``debug`` is DEBUG.

    ``nostatic`` and ``insecure`` are runserver's switches: nothing served at STATIC_URL, and
    the apps' static files served through Django with DEBUG off too."""
    from django.apps import apps
    from django.conf import settings

    notices: list[str] = []
    wsgi = getattr(settings, "WSGI_APPLICATION", None)
    if wsgi:
        module, _, attribute = wsgi.rpartition(".")
        app = f"{module}:{attribute}"
    else:
        app = "lanner.django.wsgi:application"

    args: list[str] = []
    static_url = getattr(settings, "STATIC_URL", None)
    static_root = getattr(settings, "STATIC_ROOT", None)
    prefix = _local_prefix(static_url)
    nothing_collected = not static_root or _is_empty_dir(str(static_root))
    if nostatic:
        pass  # runserver --nostatic: STATIC_URL is left to the app
    elif prefix is not None and (settings.DEBUG or insecure) and apps.is_installed("django.contrib.staticfiles"):
        # Development: the files come from the apps, through Django, as under runserver
        # (lanner.django.debug_static wraps the project's own app), so an edited file is served
        # as it is now, not as it was at the last collectstatic.
        app = "lanner.django.debug_static:application"
        why = "DEBUG is on" if settings.DEBUG else "--insecure is given"
        if nothing_collected:
            why += f" and STATIC_ROOT is {'empty' if static_root else 'not set'}"
        notices.append(
            f"{why}: Django serves {prefix} from the apps' static directories, as runserver does (slow, for "
            "development). With DEBUG off, the master serves STATIC_ROOT, filled by 'python manage.py collectstatic'."
        )
    elif prefix is not None:
        if not static_root:
            notices.append(
                f"STATIC_ROOT is not set, so nothing is served at {prefix}: set STATIC_ROOT in your settings "
                "and run 'python manage.py collectstatic'."
            )
        else:
            if nothing_collected:
                notices.append(
                    f"STATIC_ROOT ({static_root}) is empty: run 'python manage.py collectstatic' so that "
                    f"{prefix} serves your static files."
                )
            args += ["--static", f"{prefix}={static_root}"]

    media_args: list[str] = []
    media_notices: list[str] = []
    media_prefix = _local_prefix(getattr(settings, "MEDIA_URL", None))
    media_root = getattr(settings, "MEDIA_ROOT", None)
    if media_prefix is None or not media_root:
        media_notices.append("--media: MEDIA_URL and MEDIA_ROOT must both be set to serve uploaded files.")
    elif media_prefix == prefix:
        media_notices.append("--media: MEDIA_URL must differ from STATIC_URL.")
    else:
        media_args += ["--static", f"{media_prefix}={media_root}"]
    return {"app": app, "args": args, "notices": notices, "media_args": media_args, "media_notices": media_notices,
            "settings": settings.SETTINGS_MODULE, "debug": bool(settings.DEBUG)}


def main() -> None:
    """``python -m lanner.django.discovery MANAGE_PY``: prints what ``lanner`` needs (describe()) as JSON.

    Run by the Lanner master, with the workers' Python, when it is started with no APP_MODULE in
    a directory holding a manage.py."""
    import json
    import sys

    manage_py = Path(sys.argv[1]).resolve()
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE") or settings_module_of(manage_py)
    if not settings_module:
        print(json.dumps({"error": f"{manage_py} does not say which settings module to use (DJANGO_SETTINGS_MODULE)"}))
        return
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    sys.path.insert(0, str(manage_py.parent))
    try:
        import django

        django.setup()
        found = describe()
    except Exception as exc:  # the settings do not load: say why, the master exits with it
        import traceback

        print(json.dumps({"error": f"cannot load the Django settings {settings_module!r}: {type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc()}))
        return
    print(json.dumps({**found, "project": str(manage_py.parent)}))


if __name__ == "__main__":
    main()
