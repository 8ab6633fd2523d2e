"""TLS and HTTP/2: the master terminates TLS with --certfile/--keyfile, offers HTTP/2 by ALPN next
to HTTP/1.1, and the app sees wsgi.url_scheme 'https'. A certificate that cannot be loaded is one
clear line and exit 1."""

import json
import shutil
import socket
import ssl
import subprocess

import pytest

from serverkit import APPS, LANNER


def _client(certs, alpn=("http/1.1",)) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs / "cert.pem"))
    context.set_alpn_protocols(list(alpn))
    return context


def _get(server, certs, path: str, host: str = "127.0.0.1") -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with _client(certs).wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return head, body


def test_https_serves_the_app_with_the_https_scheme(lanner, certs):
    server = lanner(["--certfile", str(certs / "cert.pem"), "--keyfile", str(certs / "key.pem"), "validated"])
    server.wait_for(rf"Listening at: https://127\.0\.0\.1:{server.port} ")
    head, body = _get(server, certs, "/echo?x=1", host=f"127.0.0.1:{server.port}")
    assert head.startswith(b"HTTP/1.1 200 ")
    environ = json.loads(body)
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["QUERY_STRING"] == "x=1" and environ["SERVER_PORT"] == str(server.port)
    # A Host without a port means the scheme's default port, as under gunicorn.
    _, body = _get(server, certs, "/echo", host="example.com")
    assert json.loads(body)["SERVER_PORT"] == "443"


def test_a_pem_file_holding_both_certificate_and_key_needs_no_keyfile(lanner, certs):
    server = lanner(["--certfile", str(certs / "both.pem"), "validated"])
    head, _ = _get(server, certs, "/echo")
    assert head.startswith(b"HTTP/1.1 200 ")


def test_http2_is_offered_by_alpn_and_serves_requests(lanner, certs):
    server = lanner(["--certfile", str(certs / "cert.pem"), "--keyfile", str(certs / "key.pem"), "validated"])
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with _client(certs, ("h2", "http/1.1")).wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.selected_alpn_protocol() == "h2"
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed (scripts/setup installs it)")
    out = subprocess.run(
        ["curl", "-sS", "--http2", "--cacert", str(certs / "cert.pem"), "-w", "\n%{http_version}",
         f"https://127.0.0.1:{server.port}/echo?h2=yes"],
        check=True, capture_output=True, text=True, timeout=30).stdout
    body, version = out.rsplit("\n", 1)
    assert version == "2"
    environ = json.loads(body)
    assert environ["wsgi.url_scheme"] == "https" and environ["QUERY_STRING"] == "h2=yes"
    assert environ["SERVER_PROTOCOL"] == "HTTP/2"


def _run(*args):
    return subprocess.run([LANNER, "-b", "127.0.0.1:0", *args, "validated"], cwd=APPS, capture_output=True, text=True, timeout=30)


def test_a_missing_certificate_is_one_line_and_exit_1(certs):
    result = _run("--certfile", str(certs / "nope.pem"), "--keyfile", str(certs / "key.pem"))
    assert result.returncode == 1
    assert f"Error: cannot load the TLS certificate {certs / 'nope.pem'} with key {certs / 'key.pem'}: " in result.stderr
    assert "   at " not in result.stderr


def test_a_certificate_without_its_key_says_where_the_key_was_looked_for(certs):
    result = _run("--certfile", str(certs / "cert.pem"))
    assert result.returncode == 1
    assert (f"Error: cannot load the TLS certificate {certs / 'cert.pem'} "
            "(no --keyfile: its private key is looked for in the same file): ") in result.stderr
