"""Untrusted text is made visible and inert before it reaches a terminal or Rich."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from auditview.text.sanitize import printable, truncate_display


def test_escape_sequences_become_visible() -> None:
    """ESC, BEL, C1, newline and bidi overrides are replaced by visible escapes."""
    hostile = "a\x1b[31mred\x07\u202eevil\nx\x85\x9b2J"
    shown = printable(hostile)
    assert shown == "a\\x1b[31mred\\x07\\u{202e}evil\\nx\\x85\\x9b2J"


def test_plain_text_unchanged() -> None:
    """Ordinary text, including non-ASCII letters and emoji, is returned as is."""
    text = "deploy → staging ✓ Grüße 日本"
    assert printable(text) is text


@given(st.text())
def test_output_never_contains_control_characters(text: str) -> None:
    """Whatever the input, the output holds no C0/C1 control or bidi override character."""
    shown = printable(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in shown)


@given(st.text(), st.integers(min_value=1, max_value=50))
def test_truncate_respects_limit(text: str, limit: int) -> None:
    """truncate_display never returns more than limit characters and marks a cut with an ellipsis."""
    cut = truncate_display(text, limit)
    assert len(cut) <= limit
    if len(text) > limit:
        assert cut.endswith("…")
    else:
        assert cut == text
