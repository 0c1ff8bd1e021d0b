"""Length-prefixed JSON frames: the only format that crosses between supervisor and worker.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON. JSON (never pickle) means a
compromised or confused peer can at worst send wrong data, never run code in the reader.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

MAX_FRAME = 256 * 1024 * 1024  # refuse absurd lengths instead of allocating them
_HEADER = struct.Struct(">I")


def write_frame(fd: int, obj: dict[str, Any]) -> None:
    data = json.dumps(obj, separators=(",", ":")).encode()
    buf = memoryview(_HEADER.pack(len(data)) + data)
    while buf:
        n = os.write(fd, buf)
        buf = buf[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000):
                raise TimeoutError("no frame before the deadline")
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the channel")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None) -> dict[str, Any]:
    """Read one frame; raise EOFError if the peer is gone, TimeoutError past `deadline` (time.monotonic())."""
    (length,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}")
    obj = json.loads(_read_exact(fd, length, deadline))
    if not isinstance(obj, dict):
        raise ValueError("frame is not a JSON object")
    return obj
