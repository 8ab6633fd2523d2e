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


# ---- client certificates (--cert-reqs, --ca-certs) ----------------------------------------------

@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    """A CA, a client certificate it signed (alice) and a self-signed one (mallory)."""
    d = tmp_path_factory.mktemp("clients")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Lanner Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/O=Example/CN=alice", "-keyout", "alice.key", "-out", "alice.csr")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", "alice.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "0x5eed",
            "-days", "2", "-extfile", "client.ext", "-out", "alice.pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mallory",
            "-keyout", "mallory.key", "-out", "mallory.pem")
    return d


def _get_as(server, certs, clients, who: str | None):
    """GET /echo over TLS with ``who``'s certificate (or none): the environ, or the error that ended it."""
    context = _client(certs)
    if who:
        context.load_cert_chain(str(clients / f"{who}.pem"), str(clients / f"{who}.key"))
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
    except (ssl.SSLError, ConnectionError) as e:
        return e
    if not data:
        return ConnectionError("closed without a response")
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 "), head
    return json.loads(body)


def _mtls(lanner, certs, clients, reqs: str, *extra):
    return lanner(["--certfile", str(certs / "cert.pem"), "--keyfile", str(certs / "key.pem"), "--cert-reqs", reqs,
                   "--ca-certs", str(clients / "ca.pem"), *extra, "validated"])


def test_required_client_certificates_let_only_the_cas_clients_in(lanner, certs, clients):
    server = _mtls(lanner, certs, clients, "2")
    environ = _get_as(server, certs, clients, "alice")
    assert environ["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert environ["SSL_CLIENT_S_DN"] == "CN=alice,O=Example"  # RFC 2253, as nginx and mod_ssl
    assert environ["SSL_CLIENT_I_DN"] == "CN=Lanner Test CA"
    assert environ["SSL_CLIENT_M_SERIAL"] == "5EED"
    assert environ["SSL_CLIENT_CERT"] == (clients / "alice.pem").read_text().strip()
    assert isinstance(_get_as(server, certs, clients, None), Exception)
    assert isinstance(_get_as(server, certs, clients, "mallory"), Exception)
    # Refused handshakes do not hurt the server.
    assert _get_as(server, certs, clients, "alice")["SSL_CLIENT_VERIFY"] == "SUCCESS"


def test_refused_handshakes_are_counted(lanner, certs, clients):
    from test_control import Control

    server = _mtls(lanner, certs, clients, "2", "--control-bind", "127.0.0.1:0")
    control = Control(server)
    assert isinstance(_get_as(server, certs, clients, "mallory"), Exception)
    assert _get_as(server, certs, clients, "alice")["SSL_CLIENT_VERIFY"] == "SUCCESS"
    scrape = control.until("one refusal", lambda s: s.value("lanner_connections_refused_total", reason="tls_handshake") == 1)
    assert scrape.value("lanner_http_requests_total", method="GET", status="2xx") == 1


def test_optional_client_certificates_are_checked_when_given(lanner, certs, clients):
    server = _mtls(lanner, certs, clients, "1")
    anonymous = _get_as(server, certs, clients, None)
    assert anonymous["SSL_CLIENT_VERIFY"] == "NONE" and "SSL_CLIENT_S_DN" not in anonymous
    assert _get_as(server, certs, clients, "alice")["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert isinstance(_get_as(server, certs, clients, "mallory"), Exception)


def test_without_client_certificates_the_environ_says_nothing_of_them(lanner, certs, clients):
    server = lanner(["--certfile", str(certs / "cert.pem"), "--keyfile", str(certs / "key.pem"), "validated"])
    environ = _get_as(server, certs, clients, "alice")  # offered or not, never asked for
    assert not any(k.startswith("SSL_CLIENT_") for k in environ)


def test_cert_reqs_from_a_gunicorn_config_file_takes_the_ssl_constant(lanner, certs, clients, tmp_path):
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(f"import ssl\ncert_reqs = ssl.CERT_REQUIRED\nca_certs = {str(clients / 'ca.pem')!r}\n"
                      f"certfile = {str(certs / 'cert.pem')!r}\nkeyfile = {str(certs / 'key.pem')!r}\n")
    server = lanner(["-c", str(config), "validated"])
    assert _get_as(server, certs, clients, "alice")["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert isinstance(_get_as(server, certs, clients, None), Exception)


@pytest.mark.parametrize("args, message", [
    (["--cert-reqs", "2"], "Error: --cert-reqs needs --certfile: without it Lanner serves plain HTTP."),
    (["--keyfile", "key.pem"], "Error: --keyfile needs --certfile: without it Lanner serves plain HTTP."),
])
def test_client_certificate_settings_without_a_certificate_are_one_line_and_exit_1(args, message):
    result = _run(*args)
    assert result.returncode == 1
    assert message in result.stderr


def test_unreadable_ca_certs_are_one_line_and_exit_1(certs, tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    for path, why in ((tmp_path / "nope.pem", ""), (empty, "the file holds no PEM certificate")):
        result = _run("--certfile", str(certs / "cert.pem"), "--keyfile", str(certs / "key.pem"), "--cert-reqs", "2", "--ca-certs", str(path))
        assert result.returncode == 1
        assert f"Error: cannot load the CA certificates of --ca-certs {path}: {why}" in result.stderr
        assert "   at " not in result.stderr


def test_an_unknown_cert_reqs_value_is_refused_with_exit_2():
    result = _run("--cert-reqs", "3")
    assert result.returncode == 2
    assert "--cert-reqs: invalid value '3' (expected 0, 1 or 2 (or CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED))" in result.stderr
