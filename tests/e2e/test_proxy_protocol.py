"""--proxy-protocol: behind a TCP load balancer (HAProxy, AWS NLB, ...) the client's address comes
in a PROXY header (version 1 or 2) at the start of the connection. From an allowed peer it becomes
REMOTE_ADDR/REMOTE_PORT and the access log's host, with gunicorn's PROXY_* environ keys; from any
other peer the header is refused with 403, and an invalid one with 400."""

import ipaddress
import json
import re
import socket
import ssl
import struct

import pytest

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(source: str, destination: str, sport: int, dport: int, command: int = 1) -> bytes:
    src, dst = ipaddress.ip_address(source), ipaddress.ip_address(destination)
    family = 0x11 if src.version == 4 else 0x21
    block = src.packed + dst.packed + struct.pack("!HH", sport, dport)
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(block)) + block


def echo_request(close: bool = True) -> bytes:
    return b"GET /echo HTTP/1.1\r\nHost: t\r\n" + (b"Connection: close\r\n" if close else b"") + b"\r\n"


def bodies(data: bytes) -> list[dict]:
    """The JSON bodies of the (Content-Length framed) responses in ``data``."""
    out = []
    while data:
        head, rest = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
        out.append(json.loads(rest[:length]))
        data = rest[length:]
    return out


def exchange(server, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(data)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    return received


@pytest.fixture
def server(lanner):
    return lanner(["--proxy-protocol", "--access-logfile", "-", "validated"])


def test_a_v1_header_gives_the_client_address_to_every_request_of_the_connection(server):
    data = exchange(server, b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 8000\r\n" + echo_request(close=False) + echo_request())
    first, second = bodies(data)
    for env in (first, second):
        assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("203.0.113.7", "51234")
        assert (env["PROXY_PROTOCOL"], env["PROXY_ADDR"], env["PROXY_PORT"]) == ("TCP4", "10.0.0.2", "8000")
    server.wait_for(r'^203\.0\.113\.7 - - \[.*\] "GET /echo HTTP/1\.1" 200')


def test_a_v2_header_gives_the_client_address_ipv6_too(server):
    (env,) = bodies(exchange(server, v2_header("2001:db8::7", "2001:db8::1", 40000, 443) + echo_request()))
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"], env["PROXY_PROTOCOL"]) == ("2001:db8::7", "40000", "TCP6")
    assert (env["PROXY_ADDR"], env["PROXY_PORT"]) == ("2001:db8::1", "443")


@pytest.mark.parametrize("preamble", [b"", b"PROXY UNKNOWN\r\n", v2_header("198.51.100.9", "10.0.0.2", 1, 2, command=0)],
                         ids=["no header", "v1 UNKNOWN", "v2 LOCAL"])
def test_a_connection_without_a_client_address_is_served_as_it_is(server, preamble):
    (env,) = bodies(exchange(server, preamble + echo_request()))
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert "PROXY_PROTOCOL" not in env


@pytest.mark.parametrize("header, problem", [
    (b"PROXY TCP4 203.0.113.7 10.0.0.2 51234\r\n", "a v1 header that is not"),
    (b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 99999\r\n", "an invalid address or port"),
    (b"PROXY TCP4 " + b"1" * 120, "longer than 107 bytes"),
    (V2_SIGNATURE + b"\x21\x12\x00\x0c" + bytes(12), "transport 2"),
])
def test_an_invalid_header_is_a_400_with_the_reason_logged(server, header, problem):
    data = exchange(server, header + echo_request())
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Invalid PROXY protocol header" in data
    server.wait_for(rf"\[WARNING\] Invalid PROXY protocol header from 127\.0\.0\.1: .*{re.escape(problem)}.*; answered 400")


def test_a_header_from_an_address_not_allowed_is_a_403(lanner):
    server = lanner(["--proxy-protocol", "--proxy-allow-from", "10.9.9.9", "validated"])
    data = exchange(server, b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 8000\r\n" + echo_request())
    assert data.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    server.wait_for(r"\[WARNING\] Refused a PROXY protocol header from 127\.0\.0\.1: the address is not in --proxy-allow-from; answered 403")
    # The same peer without a header is served, under its own address.
    (env,) = bodies(exchange(server, echo_request()))
    assert env["REMOTE_ADDR"] == "127.0.0.1"


def test_without_the_setting_a_header_is_not_read(lanner):
    server = lanner(["validated"])
    data = exchange(server, b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 8000\r\n" + echo_request())
    assert data.startswith(b"HTTP/1.1 400 ")
    assert b"203.0.113.7" not in data


def test_the_header_comes_before_tls(lanner, certs):
    server = lanner(["--proxy-protocol", "--certfile", str(certs / "cert.pem"), "--keyfile", str(certs / "key.pem"), "validated"])
    context = ssl.create_default_context(cafile=str(certs / "cert.pem"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 443\r\n")
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(echo_request())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    (env,) = bodies(data)
    assert (env["REMOTE_ADDR"], env["wsgi.url_scheme"], env["PROXY_PORT"]) == ("203.0.113.7", "https", "443")


def test_the_settings_come_from_a_gunicorn_config_file(lanner, tmp_path):
    config = tmp_path / "gunicorn.conf.py"
    config.write_text('proxy_protocol = True\nproxy_allow_ips = "127.0.0.1,10.0.0.1"\n')
    server = lanner(["-c", str(config), "validated"])
    (env,) = bodies(exchange(server, b"PROXY TCP4 203.0.113.8 10.0.0.2 1 2\r\n" + echo_request()))
    assert env["REMOTE_ADDR"] == "203.0.113.8"
