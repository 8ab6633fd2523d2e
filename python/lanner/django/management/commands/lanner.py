"""``python manage.py lanner [addrport] [lanner options]``: serve this project with Lanner."""

from __future__ import annotations

import json
import os
import re
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve this project with Lanner: the app from WSGI_APPLICATION, static files from STATIC_ROOT "
        "at STATIC_URL served by the master (--media: MEDIA_ROOT at MEDIA_URL too). As with runserver, "
        "an address may come first (8000, 0:8000, 192.168.1.5:8000, [::1]:8000; -6 for [::1] by default), and "
        "runserver's --noreload, --nothreading, --nostatic and --insecure are accepted; any lanner option may follow "
        "(lanner --help lists them)."
    )

    def run_from_argv(self, argv: list[str]) -> None:
        # argv: [manage.py, "lanner", ...]. Django already applied --settings and --pythonpath.
        rest = argv[2:]
        if any(a in ("-h", "--help") for a in rest):
            self.print_help(argv[0], argv[1])
            sys.stdout.flush()
        passthrough: list[str] = []
        address = rest[0] if rest and runserver_address(rest[0]) is not None else None
        if address is not None:
            rest = rest[1:]
        ipv6 = nostatic = insecure = False
        skip = False
        for arg in rest:
            if skip:
                skip = False
            elif arg == "--settings":
                skip = True
            elif arg == "--noreload":
                passthrough += ["--reload", "false"]  # runserver's switch (with DEBUG on, lanner reloads as runserver does)
            elif arg == "--nothreading":
                continue  # runserver's switch for what lanner does not do unless asked
            elif arg in ("-6", "--ipv6"):
                ipv6 = True
            elif arg == "--nostatic":
                nostatic = True  # runserver's: nothing served at STATIC_URL
            elif arg == "--insecure":
                insecure = True  # runserver's: the apps' static files through Django with DEBUG off too
            elif not arg.startswith("--settings="):
                passthrough.append(arg)
        if address is not None or ipv6:
            passthrough = ["--bind", runserver_address(address or "8000", ipv6)] + passthrough

        from lanner._launcher import server_command, server_environment
        from lanner.django.discovery import describe

        # The server gets the project as discovery would describe it: its STATIC_ROOT mount, its
        # MEDIA_ROOT mount for the master to add when the media setting (--media, $LANNER_MEDIA or
        # a config file) asks for it, and DEBUG, which turns on the development defaults.
        found = describe(nostatic=nostatic, insecure=insecure)
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
        # The app first: an argument the server does not take is then the one its error names.
        # `lanner check` is a subcommand, which the server reads only as the first argument.
        head = passthrough[:1] if passthrough[:1] == ["check"] else []
        os.execve(command[0], command + head + tail + args + passthrough[len(head):], env)


_ADDRPORT = re.compile(r"^(?:(?P<host>\[[0-9a-fA-F:.]+\]|[\w.-]+):)?(?P<port>\d{1,5})$")


def runserver_address(arg: str, ipv6: bool = False) -> str | None:
    """runserver's optional first argument as a --bind value: ``8000`` is 127.0.0.1:8000 ([::1]:8000
    with -6), ``0:8000`` is 0.0.0.0:8000 (runserver's shorthand), ``host:8000`` and ``[::1]:8000`` as
    given. None when ``arg`` is not such an address."""
    m = _ADDRPORT.match(arg)
    if m is None:
        return None
    host = m.group("host") or ("[::1]" if ipv6 else "127.0.0.1")
    return f"{'0.0.0.0' if host == '0' else host}:{m.group('port')}"
