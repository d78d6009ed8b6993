"""Fixed-width plain text shared by the front ends: the palette, terminal cell widths, local times.

Owns ``Palette`` (opt-in SGR colour and Unicode glyphs), ``display_width`` and the truncation and padding that
respect it, and ``format_local_time``. Plain Python values only: no polars, no Rich, no Textual, so the CLI,
the report and any later front end lay text out the same way. Colour only ever wraps text already made
printable (``auditview.text.sanitize``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from auditview.text.humanize import UNKNOWN

__all__ = [
    "STYLES",
    "Palette",
    "display_width",
    "format_local_time",
    "pad",
    "truncate_width",
    "truncate_width_left",
]

_RESET: Final = "\x1b[0m"
#: The SGR codes of the style names a ``Palette`` paints with.
STYLES: Final[dict[str, str]] = {
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
    "red": "\x1b[31m",
    "yellow": "\x1b[33m",
    "green": "\x1b[32m",
    "cyan": "\x1b[36m",
    "magenta": "\x1b[35m",
}


@dataclass(frozen=True, slots=True)
class Palette:
    """How to decorate output: ``colour`` adds SGR colour codes, ``unicode`` allows block and mark glyphs."""

    colour: bool = False
    unicode: bool = True

    def paint(self, text: str, style: str | None) -> str:
        """Wrap already-sanitized ``text`` in the SGR codes of ``style`` when colour is on."""
        if not self.colour or not style or not text:
            return text
        return f"{STYLES[style]}{text}{_RESET}"

    def glyph(self, fancy: str, plain: str) -> str:
        """Pick the Unicode glyph when the output encoding can carry it, else its ASCII stand-in."""
        return fancy if self.unicode else plain


def _cells(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal cells taken by ``text``: wide East Asian characters count 2, combining marks 0."""
    if text.isascii():
        return len(text)
    return sum(_cells(char) for char in text)


def truncate_width(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` terminal cells, ending with ``…`` when cut."""
    if limit <= 0:
        return ""
    if display_width(text) <= limit:
        return text
    out: list[str] = []
    used = 0
    for char in text:
        cells = _cells(char)
        if used + cells > limit - 1:
            break
        out.append(char)
        used += cells
    return "".join(out) + "…"


def truncate_width_left(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` cells keeping its end (for paths), starting with ``…`` when cut."""
    if display_width(text) <= limit:
        return text
    kept = truncate_width(text[::-1], limit)
    return "…" + kept[:-1][::-1] if kept.endswith("…") else kept[::-1]


def pad(text: str, width: int, align: Literal["left", "right"]) -> str:
    """``text`` padded with spaces to ``width`` cells, on the right (``left``) or on the left (``right``)."""
    gap = max(width - display_width(text), 0)
    return (" " * gap + text) if align == "right" else (text + " " * gap)


def format_local_time(moment: datetime | None, *, date: bool = True) -> str:
    """An aware time shown in the local zone with milliseconds (``2026-11-27 10:03:12.345``); ``-`` if
    unknown."""
    if moment is None:
        return UNKNOWN
    local = moment.astimezone()
    text = local.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")
    return f"{text}.{local.microsecond // 1000:03d}"
