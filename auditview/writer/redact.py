"""Redaction of secrets in params (and error messages) before a record is written, and the record size cap.

Keys containing password, passwd, secret, token, api_key/apikey, authorization, cookie, private_key or
credential (case-insensitive substring, at any depth) get the value ``"[REDACTED]"``; so do URL userinfo
passwords (``https://user:pw@host``), ``--password=x`` style strings and the value after a ``--password``
string in a list. Tools add key patterns or their own rules. This module never writes anything and imports
only the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

__all__ = [
    "DEFAULT_SECRET_KEYS",
    "MAX_DEPTH",
    "REDACTED",
    "TOO_DEEP",
    "RedactionRule",
    "Redactor",
    "cap_record_size",
    "redact_url_passwords",
]

REDACTED: Final = "[REDACTED]"
TOO_DEEP: Final = "[REDACTED: nested too deep]"
MAX_DEPTH: Final = 32

DEFAULT_SECRET_KEYS: Final = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "cookie",
    "private_key",
    "private-key",
    "privatekey",
    "credential",
)

#: A rule sees the key (``None`` inside lists) and the already-redacted value, and returns the value to keep.
RedactionRule = Callable[[str | None, Any], Any]

_URL_USERINFO: Final = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*):(?P<pw>[^/?#\s]*)@")


def redact_url_passwords(text: str) -> str:
    """Replace the password of every ``scheme://user:password@`` in ``text`` with ``[REDACTED]``."""
    if "://" not in text:
        return text
    return _URL_USERINFO.sub(lambda m: f"{m.group('head')}:{REDACTED}@", text)


class Redactor:
    """Redact secrets from a params structure; returns a new structure, never mutates its input."""

    __slots__ = ("_flag_re", "_key_cache", "_key_re", "_keys", "_rules")

    def __init__(
        self,
        *,
        keys: Iterable[str] = DEFAULT_SECRET_KEYS,
        extra_keys: Iterable[str] = (),
        rules: Iterable[RedactionRule] = (),
    ) -> None:
        self._keys = tuple(k.lower() for k in (*keys, *extra_keys))
        self._rules = tuple(rules)
        alternatives = "|".join(re.escape(k) for k in self._keys) or r"(?!)"
        self._key_re = re.compile(alternatives, re.IGNORECASE)
        self._key_cache: dict[str, bool] = {}
        # --password=x, password=x, --api-key:x
        self._flag_re = re.compile(
            rf"^(?P<flag>-{{0,2}}[\w.\-]*(?:{alternatives})[\w.\-]*[=:])(?P<value>.+)$", re.IGNORECASE
        )

    def is_secret_key(self, key: object) -> bool:
        """True when ``key`` (as a string, case-insensitively) contains one of the secret key patterns."""
        text = key if type(key) is str else str(key)
        cached = self._key_cache.get(text)
        if cached is None:
            cached = self._key_re.search(text) is not None
            if len(self._key_cache) < 4096:
                self._key_cache[text] = cached
        return cached

    def __call__(self, value: Any) -> Any:
        """Return ``value`` with secrets replaced by ``[REDACTED]``.

        Containers nested deeper than ``MAX_DEPTH`` are replaced by a note (they could hide a secret and would
        make the record unreadable anyway).
        """
        return self._walk(None, value, 0)

    def _walk(self, key: str | None, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str and not self._rules:
            return self._redact_string(value)
        if (kind is int or kind is float or kind is bool or value is None) and not self._rules:
            return value
        if isinstance(value, Mapping | list | tuple | set | frozenset) and depth >= MAX_DEPTH:
            result: Any = TOO_DEEP
        elif isinstance(value, Mapping):
            result = {
                k: (REDACTED if self.is_secret_key(k) else self._walk(str(k), v, depth + 1))
                for k, v in value.items()
            }
        elif isinstance(value, list | tuple | set | frozenset):
            result = self._walk_list(list(value), depth + 1)
        elif isinstance(value, str):
            result = self._redact_string(value)
        else:
            result = value
        for rule in self._rules:
            result = rule(key, result)
        return result

    def _walk_list(self, items: list[Any], depth: int) -> list[Any]:
        out: list[Any] = []
        secret_next = False
        for item in items:
            if secret_next:
                out.append(REDACTED)
                secret_next = False
                continue
            if (
                isinstance(item, str)
                and item.startswith("-")
                and "=" not in item
                and self.is_secret_key(item)
            ):
                secret_next = True  # ["--password", "hunter2"]
                out.append(item)
                continue
            out.append(self._walk(None, item, depth))
        return out

    def _redact_string(self, text: str) -> str:
        text = redact_url_passwords(text)
        if ("=" in text or ":" in text) and len(text) < 4096:
            match = self._flag_re.match(text)
            if match is not None and "://" not in match.group("flag"):
                return f"{match.group('flag')}{REDACTED}"
        return text


_MARKER: Final = "…[truncated {} chars]"
_MIN_CUT: Final = 64


def cap_record_size(
    record: dict[str, Any], max_bytes: int, serializer: Callable[[dict[str, Any]], bytes]
) -> dict[str, Any]:
    """Return ``record`` unchanged if it serializes within ``max_bytes``, else a copy with long strings cut.

    Strings are cut to a shrinking limit (each with a marker saying how much was cut) until the record fits;
    if even that is not enough, ``params`` and then ``error.message`` are replaced by a short note. A cut
    record carries ``"truncated": true``. Identity fields (timestamp, ids, tool, version) are never shortened
    below 256 characters.
    """
    size = len(serializer(record))
    if size <= max_bytes:
        return record
    longest = _longest_string(record)
    limit = max(min(longest // 2, max_bytes // 2), _MIN_CUT)
    candidate = record
    while limit >= _MIN_CUT:
        candidate = _cut_dict(record, limit, protect=_PROTECTED)
        if len(serializer(candidate)) <= max_bytes:
            candidate["truncated"] = True
            return candidate
        limit //= 2
    candidate = dict(candidate)
    candidate["params"] = {"_truncated": f"params removed: record was {size} bytes, limit {max_bytes}"}
    candidate["truncated"] = True
    if len(serializer(candidate)) > max_bytes and isinstance(candidate.get("error"), dict):
        candidate["error"] = {"type": str(candidate["error"].get("type", ""))[:128], "message": "[truncated]"}
    return candidate


_PROTECTED: Final = frozenset(
    {
        "timestamp",
        "tool",
        "command",
        "request_id",
        "trace_id",
        "parent_request_id",
        "version",
        "operator",
        "host",
    }
)


def _longest_string(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max((max(len(str(k)), _longest_string(v)) for k, v in value.items()), default=0)
    if isinstance(value, list | tuple):
        return max((_longest_string(v) for v in value), default=0)
    return 0


def _cut_dict(value: dict[str, Any], limit: int, protect: frozenset[str]) -> dict[str, Any]:
    result: dict[str, Any] = _cut_strings(value, limit, protect)
    return result


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + _MARKER.format(len(text) - limit)


def _cut_strings(value: Any, limit: int, protect: frozenset[str] = frozenset()) -> Any:
    if isinstance(value, str):
        return _cut(value, limit)
    if isinstance(value, dict):
        return {
            _cut(str(k), limit) if isinstance(k, str) else k: (
                _cut(v, max(limit, 256)) if k in protect and isinstance(v, str) else _cut_strings(v, limit)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_cut_strings(v, limit) for v in value]
    return value
