"""Hostile field values are shown as literal, visible text: no markup, no escapes, no crash."""

from __future__ import annotations

from typing import Any

from auditview.tui.screens.detail import DetailScreen
from auditview.tui.widgets.detail import pretty_record
from tests.tui.app_fixtures import MemoryIndex, feed, lines_of, memory_app, record, settle

HOSTILE: dict[str, Any] = {
    "tool": "[bold red]boom[/]",
    "command": "[@click=app.quit]quit[/]",
    "operator": "\x1b]52;c;cHduZWQ=\x07\x1b[31mred\u202eevil\x9b",
    "trace_id": "[link=https://evil.example]x[/link] [unbalanced",
}


def _screen_text(app: Any) -> str:
    """Everything the compositor would paint, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_update(full=True).strips)  # type: ignore[attr-defined,unused-ignore]


async def test_hostile_fields_render_literally_and_the_app_survives() -> None:
    """Markup, OSC/CSI escapes, C1 and bidi controls in fields appear escaped and visible in the table."""
    lines = lines_of([record(1, **HOSTILE, params={"big": "A" * 1_000_000})])
    index = MemoryIndex(lines)
    app = memory_app(index)
    async with app.run_test(size=(200, 20)) as pilot:
        feed(app, index)
        await settle(app, pilot)
        row = app.records.render_line(1).text
        assert "[bold red]boom[/]" in row
        assert "[@click=app.quit]quit[/]" in row
        assert "\\x1b]52;c;cHduZWQ=" in row
        for char in "\x1b\x07\x9b\u202e":
            assert char not in row
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DetailScreen)
        shown = str(app.screen.query_one("#detail-json").render())
        assert "[@click=app.quit]quit[/]" in shown
        assert "\u202e" not in shown
        assert "\x9b" not in shown
        assert "more characters" in shown  # the 1 MB value is cut for display
        await pilot.press("escape")
        assert app.is_running


def test_detail_escapes_every_control_and_keeps_markup_literal() -> None:
    """pretty_record never leaves a control or bidi character and never interprets brackets."""
    raw = lines_of([record(2, **HOSTILE)])[0]
    text = pretty_record(raw)
    assert "[bold red]boom[/]" in text.plain
    assert not any((ord(ch) < 0x20 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F for ch in text.plain)
    assert "\u202e" not in text.plain
    assert "\\u{202e}" in text.plain


def test_invalid_utf8_and_non_json_raw_lines_still_render() -> None:
    """A raw line that is not UTF-8 JSON is shown sanitized instead of crashing."""
    text = pretty_record(b"\xff\xfe[bold]\x1b[2J not json")
    assert "[bold]" in text.plain
    assert "\x1b" not in text.plain
