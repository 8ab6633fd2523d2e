"""``python manage.py lanner [lanner options]``: serve this project with Lanner."""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve this project with Lanner: the app from WSGI_APPLICATION, static files from STATIC_ROOT "
        "at STATIC_URL served by the master (--media: MEDIA_ROOT at MEDIA_URL too). Any lanner option "
        "may follow (lanner --help lists them)."
    )

    def run_from_argv(self, argv: list[str]) -> None:
        # argv: [manage.py, "lanner", ...]. Django already applied --settings and --pythonpath.
        rest = argv[2:]
        if any(a in ("-h", "--help") for a in rest):
            self.print_help(argv[0], argv[1])
            sys.stdout.flush()
        passthrough: list[str] = []
        media = False
        skip = False
        for i, arg in enumerate(rest):
            if skip:
                skip = False
                continue
            if arg == "--media":
                media = True
            elif arg == "--settings":
                skip = True
            elif arg.startswith("--settings="):
                continue
            else:
                passthrough.append(arg)

        from django.conf import settings

        from lanner._launcher import server_command, server_environment
        from lanner.django.discovery import project_arguments

        # $LANNER_MEDIA asks for it too; the server gets the mount itself, not the variable.
        media = media or os.environ.get("LANNER_MEDIA", "").strip().lower() in ("1", "true", "yes", "on", "y", "t")
        app, args, notices = project_arguments(media)
        for notice in notices:
            self.stderr.write(f"lanner: {notice}")
        env = server_environment()
        env["DJANGO_SETTINGS_MODULE"] = settings.SETTINGS_MODULE
        env.pop("LANNER_MEDIA", None)
        project = os.path.dirname(os.path.abspath(argv[0]))
        if os.path.abspath(os.getcwd()) != project:
            args += ["--pythonpath", project]
        tail = [app]
        if any(a in ("-h", "--help", "--version") for a in passthrough):
            args, tail = [], []
        command = server_command()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(command[0], command + args + passthrough + tail, env)
