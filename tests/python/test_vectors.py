"""The Python side against tests/vectors/protocol.json (the C# tests read it too)."""

import json
import marshal

import pytest

from workerkit import ROOT
from lanner.worker import _protocol as P

VECTORS = json.loads((ROOT / "tests/vectors/protocol.json").read_text())


@pytest.mark.parametrize("v", VECTORS["frames"], ids=lambda v: v["name"])
def test_frame_header(v):
    raw = bytes.fromhex(v["hex"])
    length, ftype, flags, stream = P.HEADER.unpack_from(raw)
    assert length == len(raw) - P.HEADER_SIZE
    assert ftype == getattr(P, v["type"])
    assert (flags, stream) == (v["flags"], v["stream"])
    assert raw[P.HEADER_SIZE:] == bytes.fromhex(v["payload"])


@pytest.mark.parametrize("v", VECTORS["environs"], ids=lambda v: v["name"])
def test_environ_blob_loads_as_written_by_the_master(v):
    assert marshal.loads(bytes.fromhex(v["marshal"])) == dict(v["fields"])


@pytest.mark.parametrize("v", VECTORS["response_heads"], ids=lambda v: v["name"])
def test_response_head_vector_is_cpython_marshal(v):
    # The exact bytes depend on object identity (ref flags), so they are checked only by
    # decoding: here with CPython, in the C# tests with Lanner's reader.
    assert marshal.loads(bytes.fromhex(v["marshal"])) == (v["status"], [tuple(h) for h in v["headers"]])
