"""Writes protocol.json: golden vectors of the Lanner worker protocol (docs/protocol.md).

The C# tests (tests/Lanner.Protocol.Tests) and the Python tests (tests/python) both read the
JSON. Run this only when the protocol changes on purpose:

    /usr/bin/python3 tests/vectors/generate.py

Environ vectors are encoded here by hand, following the rules of docs/protocol.md, so that
the C# writer is checked against the spec and not against itself. Response-head vectors are
what CPython's marshal.dumps produces (refs and interning flags included), which the C#
decoder must read.
"""

from __future__ import annotations

import json
import marshal
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = struct.Struct("<IBBI")
TYPES = {"HELLO": 0x01, "READY": 0x02, "BOOT_ERROR": 0x03, "RECLAIMED": 0x04, "LOG": 0x05,
         "RESPONSE": 0x10, "RESPONSE_BODY": 0x11, "RESPONSE_FILE": 0x12, "BODY_PULL": 0x13,
         "APP_ERROR": 0x14, "CONFIG": 0x81, "STOP": 0x82, "RECLAIM": 0x83, "REQUEST": 0x90,
         "REQUEST_BODY": 0x91, "ABORT": 0x92, "FILE_ACK": 0x93}


def m_str(value: str) -> bytes:
    """A str as the master writes it: 'z' short ASCII, 'a' long ASCII, 'u' UTF-8 otherwise."""
    raw = value.encode("utf-8")
    if value.isascii():
        if len(raw) < 256:
            return b"z" + bytes((len(raw),)) + raw
        return b"a" + struct.pack("<i", len(raw)) + raw
    return b"u" + struct.pack("<i", len(raw)) + raw


def m_dict(pairs: list[tuple[str, str]]) -> bytes:
    return b"{" + b"".join(m_str(k) + m_str(v) for k, v in pairs) + b"0"


def frame(ftype: str, flags: int, stream: int, payload: bytes) -> bytes:
    return HEADER.pack(len(payload), TYPES[ftype], flags, stream) + payload


ENVIRONS = [
    {
        "name": "GET with query and two headers",
        "fields": [
            ["REQUEST_METHOD", "GET"], ["PATH_INFO", "/hello"], ["QUERY_STRING", "a=1&b=%20"],
            ["RAW_URI", "/hello?a=1&b=%20"], ["REQUEST_URI", "/hello?a=1&b=%20"], ["SERVER_PROTOCOL", "HTTP/1.1"],
            ["wsgi.url_scheme", "http"], ["SERVER_NAME", "example.com"], ["SERVER_PORT", "8000"],
            ["REMOTE_ADDR", "127.0.0.1"], ["REMOTE_PORT", "50000"], ["HTTP_HOST", "example.com:8000"],
            ["HTTP_ACCEPT", "*/*"],
        ],
    },
    {
        "name": "UTF-8 path decoded as latin-1",
        "fields": [
            ["REQUEST_METHOD", "GET"], ["PATH_INFO", "/caf\u00c3\u00a9"], ["QUERY_STRING", ""],
            ["RAW_URI", "/caf%C3%A9"], ["REQUEST_URI", "/caf%C3%A9"], ["SERVER_PROTOCOL", "HTTP/1.1"],
            ["wsgi.url_scheme", "http"], ["SERVER_NAME", "localhost"], ["SERVER_PORT", "80"],
            ["REMOTE_ADDR", "::1"], ["REMOTE_PORT", "1"],
        ],
    },
    {
        "name": "long header value (long ASCII form)",
        "fields": [["REQUEST_METHOD", "POST"], ["HTTP_X_LONG", "x" * 300], ["CONTENT_LENGTH", "3"]],
    },
]

# Response heads as workers send them: CPython's own marshal output.
_ct = "Content-Type"
RESPONSE_HEADS = [
    {"name": "simple", "value": ("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])},
    {"name": "repeated header object (back-reference)",
     "value": ("302 Found", [(_ct, "text/html"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), (_ct, "x")])},
    {"name": "non-ASCII latin-1 value", "value": ("200 OK", [("X-Name", "Jos\u00e9")])},
    {"name": "no headers", "value": ("204 No Content", [])},
]


def main() -> None:
    environs = []
    for env in ENVIRONS:
        blob = m_dict([tuple(p) for p in env["fields"]])
        assert marshal.loads(blob) == dict(env["fields"]), env["name"]
        environs.append({**env, "marshal": blob.hex()})

    heads = []
    for item in RESPONSE_HEADS:
        status, headers = item["value"]
        blob = marshal.dumps((status, headers))
        heads.append({"name": item["name"], "status": status, "headers": [list(h) for h in headers],
                      "marshal": blob.hex(), "python": "%d.%d" % sys.version_info[:2]})

    request_payload = struct.pack("<I", len(bytes.fromhex(environs[0]["marshal"]))) + bytes.fromhex(environs[0]["marshal"]) + b"body"
    frames = [
        {"name": "request with inline body, complete", "type": "REQUEST", "flags": 1, "stream": 7,
         "payload": request_payload.hex(), "hex": frame("REQUEST", 1, 7, request_payload).hex()},
        {"name": "body pull of 262144 bytes", "type": "BODY_PULL", "flags": 0, "stream": 7,
         "payload": struct.pack("<I", 262144).hex(), "hex": frame("BODY_PULL", 0, 7, struct.pack("<I", 262144)).hex()},
        {"name": "empty end of response body", "type": "RESPONSE_BODY", "flags": 1, "stream": 4294967295,
         "payload": "", "hex": frame("RESPONSE_BODY", 1, 4294967295, b"").hex()},
        {"name": "stop", "type": "STOP", "flags": 0, "stream": 0, "payload": "", "hex": frame("STOP", 0, 0, b"").hex()},
    ]
    out = {"comment": "Golden vectors of docs/protocol.md; written by generate.py.",
           "frames": frames, "environs": environs, "response_heads": heads}
    (HERE / "protocol.json").write_text(json.dumps(out, indent=2, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()
