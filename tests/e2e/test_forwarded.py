"""--forwarded-allow-ips and gunicorn's secure_scheme_headers: from a trusted front end, each scheme
header present says https when its value is exactly the secure one and http otherwise; headers that
disagree are a 400; from anyone else they are ignored. Trust is the connecting peer's (with
--proxy-protocol, the proxy's, not the client's it names)."""

import json
import socket
import ssl

import pytest


def scheme(server, *fields, preamble=b"", tls=None):
    head = (b"GET /echo HTTP/1.1\r\nHost: t\r\n" + b"".join(f.encode() + b"\r\n" for f in fields)
            + b"Connection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(preamble)
        if tls:
            s = tls.wrap_socket(s, server_hostname="127.0.0.1")
        s.sendall(head)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = data.split(b" ", 2)[1]
    if status != b"200":
        return int(status)
    return json.loads(data.split(b"\r\n\r\n", 1)[1])["wsgi.url_scheme"]


@pytest.mark.parametrize("fields, expected", [
    ((), "http"),
    (("X-Forwarded-Proto: https",), "https"),
    (("X-Forwarded-Proto: HTTPS",), "http"),  # exactly the secure value, as gunicorn
    (("X-Forwarded-Ssl: on",), "https"),
    (("X-Forwarded-Protocol: ssl",), "https"),
    (("X-Forwarded-Proto: https", "X-Forwarded-Ssl: on"), "https"),
    (("X-Forwarded-Proto: https", "X-Forwarded-Ssl: off"), 400),
    (("X-Forwarded-Proto: https", "X-Forwarded-Proto: http"), 400),
])
def test_a_trusted_front_end_decides_the_scheme(lanner, fields, expected):
    server = lanner(["validated"])  # 127.0.0.1 is trusted by default
    assert scheme(server, *fields) == expected


def test_a_trusted_front_end_can_say_http_on_a_tls_listener(lanner, certs):
    server = lanner(["--certfile", str(certs / "cert.pem"), "--keyfile", str(certs / "key.pem"), "validated"])
    tls = ssl.create_default_context(cafile=str(certs / "cert.pem"))
    assert scheme(server, tls=tls) == "https"
    assert scheme(server, "X-Forwarded-Proto: http", tls=tls) == "http"


def test_scheme_headers_from_an_untrusted_peer_are_ignored(lanner):
    server = lanner(["--forwarded-allow-ips", "10.0.0.1", "validated"])
    assert scheme(server, "X-Forwarded-Proto: https") == "http"
    assert scheme(server, "X-Forwarded-Proto: https", "X-Forwarded-Ssl: off") == "http"


def test_a_network_can_be_trusted(lanner):
    server = lanner(["--forwarded-allow-ips", "10.0.0.0/8,127.0.0.0/8", "validated"])
    assert scheme(server, "X-Forwarded-Proto: https") == "https"


def test_behind_the_proxy_protocol_the_proxy_is_trusted_not_the_client(lanner):
    server = lanner(["--proxy-protocol", "validated"])
    preamble = b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 443\r\n"
    assert scheme(server, "X-Forwarded-Proto: https", preamble=preamble) == "https"
    # And a client that is itself on the list does not make an untrusted proxy trusted.
    untrusting = lanner(["--proxy-protocol", "--forwarded-allow-ips", "203.0.113.7", "validated"])
    assert scheme(untrusting, "X-Forwarded-Proto: https", preamble=preamble) == "http"
