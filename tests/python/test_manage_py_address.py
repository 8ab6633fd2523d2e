"""python manage.py lanner: runserver's optional first argument, the address, becomes --bind."""

import pytest

django = pytest.importorskip("django")

from lanner.django.management.commands.lanner import runserver_address  # noqa: E402


@pytest.mark.parametrize("arg, bind", [
    ("8000", "127.0.0.1:8000"),
    ("0:8000", "0.0.0.0:8000"),
    ("0.0.0.0:8080", "0.0.0.0:8080"),
    ("192.168.1.5:8000", "192.168.1.5:8000"),
    ("localhost:9000", "localhost:9000"),
    ("[::1]:8000", "[::1]:8000"),
    ("[::]:8000", "[::]:8000"),
])
def test_an_address_as_runserver_takes_it(arg, bind):
    assert runserver_address(arg) == bind


@pytest.mark.parametrize("arg", ["-w", "--bind", "demo.wsgi:application", "unix:/tmp/s", "8000x", "host:", ":8000", "123456"])
def test_anything_else_is_not_an_address(arg):
    assert runserver_address(arg) is None


def test_ipv6_changes_only_the_default_host():
    assert runserver_address("8000", ipv6=True) == "[::1]:8000"
    assert runserver_address("0:8000", ipv6=True) == "0.0.0.0:8000"
    assert runserver_address("[::]:8000", ipv6=True) == "[::]:8000"
