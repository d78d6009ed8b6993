"""Redaction of secrets in params, error messages and annotations before a record is written; the size cap.

What is redacted, by default (``README.md``, "Writing guarantees", says the same):

* **by key**: the value under a key containing password, passwd, secret, token, api_key/apikey/api-key,
  authorization, cookie, private_key/private-key/privatekey or credential (case-insensitive substring, at any
  depth), and the list element after a ``--password``-style string (argv);
* **by form, inside any string**: ``NAME=value`` / ``NAME: value`` (also ``"NAME": "value"`` and
  ``'NAME': 'value'``) and ``--NAME value`` where NAME contains one of those words; a string that is entirely
  ``NAME=value`` loses everything after the ``=``; an ``Authorization`` value keeps its scheme word
  (``Bearer [REDACTED]``); URL userinfo passwords (``https://user:[REDACTED]@host``);
* **by shape, anywhere in any string**: ``Bearer <token>``, AWS access key ids (``AKIA``/``ASIA`` + 16),
  GitHub tokens (``ghp_``/``gho_``/``ghs_``/``ghu_``/``ghr_`` + 20 or more, ``github_pat_``), GitLab
  ``glpat-``, Slack ``xoxb-``/``xoxa-``/``xoxp-``/``xoxr-``/``xoxs-``, JWTs (``eyJ….eyJ…[.…]``) and
  ``-----BEGIN … PRIVATE KEY-----`` blocks (to their END line, or to the end of the string).

Strings of any length are redacted; bytes are decoded (as the serializer would) and redacted, dataclasses are
walked as the mapping the serializer writes, and other objects are redacted through ``str()`` when that shows
a secret. Every pattern runs in time linear in the string (anchored at run boundaries, possessive
quantifiers), so a hostile megabyte costs milliseconds, not hours. Tools add key patterns or their own rules.
This module never writes anything and imports only the standard library.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from enum import Enum
from typing import Any, Final
from uuid import UUID

__all__ = [
    "DEFAULT_SECRET_KEYS",
    "MAX_DEPTH",
    "REDACTED",
    "TOO_DEEP",
    "RedactionRule",
    "Redactor",
    "cap_record_size",
    "redact_token_shapes",
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

# Linear time: every pattern below starts only where a run of its characters starts (a negative lookbehind on
# the run's own class), scans that run once without backtracking (possessive quantifiers), and gives up or
# matches; so the total work is proportional to the length of the text whatever the text is.

_URL_USERINFO: Final = re.compile(
    r"(?<![A-Za-z0-9+.\-])(?P<head>[A-Za-z][A-Za-z0-9+.\-]*+://[^:/?#@\s]*+):(?P<pw>[^/?#\s]*)@"
)

_TOKEN_SHAPES: Final = re.compile(
    # a PEM private key block, to its END line or (cut or malformed) to the end of the string
    r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----|\Z)"
    # an HTTP bearer token (the scheme word is kept)
    r"|(?<![\w\-])(?P<bearer>(?i:bearer)[ \t]++)[\w\-.~+/]++=*+"
    # AWS access key ids (long-term AKIA, temporary ASIA)
    r"|(?<![\w\-])(?:AKIA|ASIA)[A-Z0-9]{16}+(?![\w\-])"
    # GitHub personal, OAuth, server, user-to-server and refresh tokens, fine-grained PATs
    r"|(?<![\w\-])(?:gh[pousr]_[A-Za-z0-9]{20,}+|github_pat_[A-Za-z0-9_]{20,}+)"
    # GitLab personal access tokens
    r"|(?<![\w\-])glpat-[\w\-]{20,}+"
    # Slack bot, app, user, refresh and session tokens
    r"|(?<![\w\-])xox[baprs]-[A-Za-z0-9\-]{10,}+"
    # JWTs: base64url JSON header and payload (both start {" = eyJ), signature optional (it may be cut off)
    r"|(?<![\w\-])eyJ[\w\-]++\.eyJ[\w\-]*+(?:\.[\w\-]*+)?"
)

#: A cheap first look (on the case-folded text): no token shape can match a string without one of these.
_TOKEN_HINTS: Final = re.compile(r"-----begin|bearer|akia|asia|gh[pousr]_|github_pat_|glpat-|xox[baprs]-|eyj")

#: An HTTP authorization value keeps its scheme word: ``Authorization: Bearer [REDACTED]``.
_AUTH_VALUE: Final = re.compile(
    r"(?P<scheme>(?i:bearer|basic|token|digest|negotiate|ntlm|aws4-hmac-sha256)[ \t]++(?=\S))?"
)
#: The value after ``NAME=``, ``NAME: `` or ``--NAME ``: a quoted string (escapes kept) or a non-blank run.
_VALUE: Final = re.compile(r"\"(?:[^\"\\]|\\[\s\S])*+\"?|'[^']*+'?|\S++")
#: A whole string of the form ``NAME=value`` or ``NAME:value`` (argv's ``--password=x``).
_WHOLE_FLAG: Final = re.compile(r"(?P<name>[\w.\-]++)[=:][ \t]*+")


def redact_url_passwords(text: str) -> str:
    """Replace the password of every ``scheme://user:password@`` in ``text`` with ``[REDACTED]``."""
    if "://" not in text:
        return text
    return _URL_USERINFO.sub(lambda m: f"{m.group('head')}:{REDACTED}@", text)


def _token_replacement(match: re.Match[str]) -> str:
    bearer = match.group("bearer")
    return f"{bearer}{REDACTED}" if bearer else REDACTED


def redact_token_shapes(text: str) -> str:
    """Replace every well-known token shape in ``text`` (bearer, AWS, GitHub, GitLab, Slack, JWT, PEM key)."""
    if _TOKEN_HINTS.search(text.casefold()) is None:
        return text
    return _TOKEN_SHAPES.sub(_token_replacement, text)


#: Types the serializer writes natively and that cannot hide a secret: passed through untouched.
_PLAIN_TYPES: Final = (int, float, bool, datetime, date, time, UUID, Enum)


class Redactor:
    """Redact secrets from a params structure; returns a new structure, never mutates its input."""

    __slots__ = ("_assign_re", "_key_cache", "_key_re", "_key_text_cache", "_keys", "_rules")

    def __init__(
        self,
        *,
        keys: Iterable[str] = DEFAULT_SECRET_KEYS,
        extra_keys: Iterable[str] = (),
        rules: Iterable[RedactionRule] = (),
    ) -> None:
        self._keys = tuple(k.casefold() for k in (*keys, *extra_keys))
        self._rules = tuple(rules)
        alternatives = "|".join(re.escape(k) for k in self._keys) or r"(?!)"
        # searched in case-folded text: many times faster than re.IGNORECASE over an alternation
        self._key_re = re.compile(alternatives)
        self._key_cache: dict[str, bool] = {}
        self._key_text_cache: dict[str, str] = {}
        # NAME=value, NAME: value, "NAME": value, --NAME value, where NAME (a run of word characters, dots and
        # dashes, taken whole) contains a secret key. The lookahead scans the run once for a key; the rest
        # scans it once more; nothing backtracks across runs.
        self._assign_re = re.compile(
            rf"(?<![\w.\-])(?=[\w.\-]*?(?:{alternatives}))"
            r"(?:(?P<flag>-[\w.\-]*+)[ \t]++(?=[^\s\-])"
            r"|(?P<name>[\w.\-]++)[\"']?[ \t]*+[=:][ \t]*+)",
            re.IGNORECASE,
        )

    def is_secret_key(self, key: object) -> bool:
        """True when ``key`` (as a string, case-insensitively) contains one of the secret key patterns."""
        text = key if type(key) is str else str(key)
        cached = self._key_cache.get(text)
        if cached is None:
            cached = self._key_re.search(text.casefold()) is not None
            if len(self._key_cache) < 4096:
                self._key_cache[text] = cached
        return cached

    def __call__(self, value: Any) -> Any:
        """Return ``value`` with secrets replaced by ``[REDACTED]``.

        Containers nested deeper than ``MAX_DEPTH`` are replaced by a note (they could hide a secret and would
        make the record unreadable anyway).
        """
        return self._walk(None, value, 0)

    def redact_field(self, name: str, value: Any) -> Any:
        """The value of the top-level record field ``name`` (an annotation); ``[REDACTED]`` if secret."""
        if self.is_secret_key(name):
            return REDACTED
        return self._walk(name, value, 0)

    def redact_text(self, text: str) -> str:
        """``text`` with secrets redacted by form and by shape (no rules: for messages, not values)."""
        return self._redact_string(text)

    def _walk(self, key: str | None, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str and not self._rules:
            return self._redact_string(value)
        if (kind is int or kind is float or kind is bool or value is None) and not self._rules:
            return value
        if isinstance(value, Mapping | list | tuple | set | frozenset) and depth >= MAX_DEPTH:
            result: Any = TOO_DEEP
        elif isinstance(value, Mapping):
            result = self._walk_mapping(value.items(), depth + 1)
        elif isinstance(value, list | tuple | set | frozenset):
            result = self._walk_list(list(value), depth + 1)
        elif isinstance(value, str):
            result = self._redact_string(value)
        elif isinstance(value, bytes | bytearray):
            # what the serializer would write, redacted
            result = self._redact_string(bytes(value).decode("utf-8", "backslashreplace"))
        elif value is None or isinstance(value, _PLAIN_TYPES):
            result = value
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            if depth >= MAX_DEPTH:
                result = TOO_DEEP
            else:  # the serializer writes a dataclass as the mapping of its fields
                fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
                result = self._walk_mapping(fields, depth + 1)
        else:
            result = self._redact_object(value)
        for rule in self._rules:
            result = rule(key, result)
        return result

    def _walk_mapping(self, items: Iterable[tuple[Any, Any]], depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for k, v in items:
            name = k
            if isinstance(k, str):
                name = self._redact_key(k)  # a key can hold a secret too ("--password=x": True)
                number = 2
                while name in result:  # never let a redacted key and another one replace each other
                    name = f"{self._redact_key(k)}#{number}"
                    number += 1
            result[name] = REDACTED if self.is_secret_key(k) else self._walk(str(k), v, depth)
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
                and " " not in item
                and self.is_secret_key(item)
            ):
                secret_next = True  # ["--password", "hunter2"]
                out.append(item)
                continue
            out.append(self._walk(None, item, depth))
        return out

    def _redact_key(self, key: str) -> str:
        cached = self._key_text_cache.get(key)
        if cached is None:
            cached = self._redact_string(key)
            if len(self._key_text_cache) < 4096:
                self._key_text_cache[key] = cached
        return cached

    def _redact_object(self, value: Any) -> Any:
        """Anything else is written through ``str()``: redact that text when it shows a secret."""
        try:
            text = str(value)
        except Exception:
            return value  # the serializer reports it
        redacted = self._redact_string(text)
        return value if redacted == text else redacted

    def _redact_string(self, text: str) -> str:
        if not text:
            return text
        if "=" in text or ":" in text:
            whole = _WHOLE_FLAG.match(text)
            if whole is not None and whole.end() < len(text) and self.is_secret_key(whole.group("name")):
                keep = whole.end()
                if "auth" in whole.group("name").lower():
                    scheme = _AUTH_VALUE.match(text, keep)  # Authorization: Bearer [REDACTED]
                    keep = scheme.end() if scheme is not None and scheme.end() < len(text) else keep
                return f"{text[:keep]}{REDACTED}"  # --password=<all the rest>
            text = redact_url_passwords(text)
        folded = text.casefold()
        if _TOKEN_HINTS.search(folded) is not None:
            text = _TOKEN_SHAPES.sub(_token_replacement, text)
        if self._key_re.search(folded) is not None:
            text = self._redact_assignments(text)
        return text

    def _redact_assignments(self, text: str) -> str:
        parts: list[str] = []
        done = 0
        search = self._assign_re.search
        match = search(text)
        while match is not None:
            value_at = match.end()
            name = match.group("flag") or match.group("name")
            if "auth" in name.lower():
                scheme = _AUTH_VALUE.match(text, value_at)
                if scheme is not None:
                    value_at = scheme.end()
            value = _VALUE.match(text, value_at)
            if value is None:  # NAME= at the end of the text, or before a line break
                match = search(text, match.end())
                continue
            found = value.group()
            quoted = len(found) > 1 and found[0] in "\"'" and found[-1] == found[0]
            parts.append(text[done:value_at])
            parts.append(f"{found[0]}{REDACTED}{found[0]}" if quoted else REDACTED)
            done = value.end()
            match = search(text, done)
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)


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
