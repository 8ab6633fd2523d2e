"""``python manage.py lanner [lanner options]``: serve this project with Lanner."""

from __future__ import annotations

import json
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
        skip = False
        for arg in rest:
            if skip:
                skip = False
            elif arg == "--settings":
                skip = True
            elif not arg.startswith("--settings="):
                passthrough.append(arg)

        from lanner._launcher import server_command, server_environment
        from lanner.django.discovery import describe

        # The server gets the project as discovery would describe it: its STATIC_ROOT mount, and
        # its MEDIA_ROOT mount for the master to add when the media setting (--media, $LANNER_MEDIA
        # or a config file) asks for it.
        found = describe()
        project = os.path.dirname(os.path.abspath(argv[0]))
        env = server_environment()
        env["DJANGO_SETTINGS_MODULE"] = found["settings"]
        env["LANNER_DJANGO_PROJECT"] = json.dumps({**found, "project": project})
        args: list[str] = []
        if os.path.abspath(os.getcwd()) != project:
            args += ["--pythonpath", project]
        tail = [found["app"]]
        if any(a in ("-h", "--help", "--version") for a in passthrough):
            args, tail = [], []
        command = server_command()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(command[0], command + args + passthrough + tail, env)
