"""Identifiers: request ids (``req-`` + a UUIDv7-style value) and generated trace and span ids.

A request id is time-ordered (48-bit Unix milliseconds first, then a per-process monotonic counter) and unique
across processes and hosts (62 random bits from ``os.urandom`` per id), so ``sorted()`` on request ids follows
creation time within a process and almost everywhere across processes. This module uses the standard library
only and must not import ``uuid`` or ``secrets`` (they cost import time for every embedding tool).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Final

__all__ = [
    "REQUEST_ID_PREFIX",
    "hashed_hex_id",
    "new_request_id",
    "new_span_id",
    "new_trace_id",
    "span_id_for",
]

REQUEST_ID_PREFIX: Final = "req-"

_lock = threading.Lock()
_last_ms = -1
_counter = 0


def _reset_after_fork() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def _uuid7_int() -> int:
    global _last_ms, _counter
    random_bytes = os.urandom(10)
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            # A random start in the lower half leaves room for ids created in the same millisecond.
            _counter = int.from_bytes(random_bytes[:2], "big") & 0x7FF
        else:
            # Same millisecond, or the wall clock went backwards: keep the order by counting on.
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
        millis, counter = _last_ms, _counter
    rand62 = int.from_bytes(random_bytes[2:], "big") & ((1 << 62) - 1)
    return (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand62


def new_request_id() -> str:
    """Return ``req-`` followed by a fresh UUIDv7-formatted, time-ordered id."""
    digits = f"{_uuid7_int():032x}"
    return f"{REQUEST_ID_PREFIX}{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def new_trace_id() -> str:
    """Return a fresh trace id: 32 lowercase hex digits (a valid W3C trace id)."""
    while True:
        value = os.urandom(16).hex()
        if value != "0" * 32:
            return value


def new_span_id() -> str:
    """Return a fresh W3C parent-id: 16 lowercase hex digits, never all zeros."""
    while True:
        value = os.urandom(8).hex()
        if value != "0" * 16:
            return value


def span_id_for(request_id: str) -> str:
    """Derive a stable W3C parent-id (16 hex digits) from a request id.

    For the ids of this module it is the random tail of the UUID; any other request id is hashed.
    """
    digits = request_id.removeprefix(REQUEST_ID_PREFIX).replace("-", "")
    if len(digits) == 32 and digits.isalnum() and digits == digits.lower() and digits[16:] != "0" * 16:
        try:
            int(digits, 16)
        except ValueError:
            pass
        else:
            return digits[16:]
    value = hashed_hex_id(request_id, 8)
    return value if value != "0" * 16 else "0" * 15 + "1"


def hashed_hex_id(text: str, size: int) -> str:
    """A stable id of ``size`` bytes (lowercase hex) derived from ``text`` by BLAKE2b.

    The C module is imported directly and only on first use (``hashlib`` loads OpenSSL, which is slower).
    """
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - other interpreters
        from hashlib import blake2b
    return blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size).hexdigest()
