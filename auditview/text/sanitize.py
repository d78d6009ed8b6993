"""Making untrusted text safe to show: control characters become visible escapes.

Every field of every record is untrusted. Before any string reaches a terminal (CLI tables) or Rich/Textual
(which must receive it as a plain ``Text``/``Content``, never as markup), it passes through ``printable()``,
which replaces C0 and C1 control characters (ESC included), DEL, and Unicode bidi/format overrides with
visible ``\\xNN`` / ``\\u{NNNN}`` escapes. It imports nothing outside the standard library.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["printable", "truncate_display"]

# C0 (except nothing: tab and newline are escaped too, a cell is one line), DEL, C1, and bidi / invisible
# formatting characters that can reorder or hide text (Trojan Source).
_UNSAFE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{{{code:04x}}}"


def printable(text: str) -> str:
    """Return ``text`` with every control or bidi-override character replaced by a visible escape."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def truncate_display(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with ``…`` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"
