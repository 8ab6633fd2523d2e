"""Wire constants of the Lanner worker protocol.

Generated from src/Lanner.Protocol (FrameType.cs) by PythonConstants.Render(); do not edit.
Regenerate with: LANNER_REGENERATE=1 dotnet test tests/Lanner.Protocol.Tests
"""

import struct

VERSION = 1

# u32 payload length, u8 type, u8 flags, u32 stream id; little-endian
HEADER = struct.Struct("<IBBI")
HEADER_SIZE = 10
MAX_PAYLOAD = 16777216

HELLO = 0x01
READY = 0x02
BOOT_ERROR = 0x03
RECLAIMED = 0x04
LOG = 0x05
SPAWNED = 0x06
CHILD_EXIT = 0x07
RESPONSE = 0x10
RESPONSE_BODY = 0x11
RESPONSE_FILE = 0x12
BODY_PULL = 0x13
APP_ERROR = 0x14
CONFIG = 0x81
STOP = 0x82
RECLAIM = 0x83
SPAWN = 0x84
REQUEST = 0x90
REQUEST_BODY = 0x91
ABORT = 0x92
FILE_ACK = 0x93

FLAG_END = 0x01

LOG_DEBUG = 1
LOG_INFO = 2
LOG_WARNING = 3
LOG_ERROR = 4
LOG_CRITICAL = 5
