"""Make the README screenshots: an SVG of each main screen of the app, from ``sample_logs/``, frozen clock.

Run ``python -m auditview.tui.screenshots --out screenshots`` from the repository root. It drives the real
app headless (``App.run_test`` + Pilot: key presses only, waiting on workers, never sleeping) and saves one
SVG per screen: records, filter error, detail, traces, timeline, export dialog (a trace as OTLP/JSON spans),
rejects and help, and the incident views: a timeline with its findings marked, and two runs compared. The same
sample logs, clock and terminal size give the same files, so a diff of ``screenshots/`` shows real changes.

``ScreenHost`` (one screen on the app's stylesheet, no loading) is here too: the trace views' tests and
snapshots use it to show ``TracesScreen`` / ``TimelineScreen`` without the rest of the app.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import polars as pl
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen

from auditview.tui.messages import (
    CompareRequested,
    ExportRequested,
    RecordDetailRequested,
    ReportRequested,
    TraceOpened,
)

__all__ = ["FROZEN_NOW", "SHOTS", "ScreenHost", "load_samples", "main", "take_screenshots"]

#: The screenshots' "now": just after the last sample record (sample_logs span 09:00–09:41 UTC).
FROZEN_NOW: Final = datetime(2026, 11, 20, 9, 45, 0, tzinfo=UTC)
DEFAULT_SIZE: Final = (120, 35)


def frozen_clock() -> datetime:
    """The screenshots' fixed "now"."""
    return FROZEN_NOW


class ScreenHost(App[None]):
    """An app that shows one screen with the project's stylesheet (for tests and standalone screenshots)."""

    CSS_PATH = "auditview.tcss"
    TITLE = "auditview"

    def __init__(self, screen: Screen[Any]) -> None:
        """Show ``screen`` once mounted."""
        super().__init__()
        self.hosted = screen
        self.received: list[object] = []

    def on_mount(self) -> None:
        """Push the hosted screen."""
        self.push_screen(self.hosted)

    def on_trace_opened(self, message: TraceOpened) -> None:
        """Record the request (the real app would open the timeline)."""
        self.received.append(message)

    def on_record_detail_requested(self, message: RecordDetailRequested) -> None:
        """Record the request (the real app would open the record's detail)."""
        self.received.append(message)

    def on_export_requested(self, message: ExportRequested) -> None:
        """Record the request (the real app would open the export dialog)."""
        self.received.append(message)

    def on_compare_requested(self, message: CompareRequested) -> None:
        """Record the request (the real app would compare the runs)."""
        self.received.append(message)

    def on_report_requested(self, message: ReportRequested) -> None:
        """Record the request (the real app would write the report)."""
        self.received.append(message)


def load_samples(path: Path) -> pl.DataFrame:
    """Index the logs under ``path`` and return the frame annotated with the default slow-step rule."""
    from auditview.core.index import AuditIndex
    from auditview.core.slow import SlowStepRule
    from auditview.source.discover import discover

    index = AuditIndex.load(discover([str(path)]))
    return SlowStepRule().annotate(index.frame)


async def _settle(pilot: Pilot[Any]) -> None:
    """Wait until workers are idle and the screen has processed its messages."""
    app = pilot.app
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()


Shot = Callable[[Pilot[Any]], Awaitable[None]]


async def _records(pilot: Pilot[Any]) -> None:
    await _settle(pilot)


async def _filter_error(pilot: Pilot[Any]) -> None:
    await pilot.press("slash", *"duration_ms >> 5s", "enter")
    await _settle(pilot)


async def _detail(pilot: Pilot[Any]) -> None:
    await pilot.press("G", "enter")
    await _settle(pilot)


async def _traces(pilot: Pilot[Any]) -> None:
    await pilot.press("t")
    await _settle(pilot)
    await pilot.press("o", "g")  # sort by span, longest first; cursor to the top
    await _settle(pilot)


async def _timeline(pilot: Pilot[Any]) -> None:
    await _traces(pilot)  # the longest trace is first: agent-session-55-step-8, with the 5-minute deploy
    await pilot.press("enter")
    await _settle(pilot)
    await pilot.press("s", "s")  # the second slow step: the 5-minute deploy
    await _settle(pilot)


async def _findings(pilot: Pilot[Any]) -> None:
    # a trace with two kinds of findings: a long think gap and a new error code
    await pilot.press("slash", *'trace_id="agent-session-56-step-1"', "enter")
    await _settle(pilot)
    await pilot.press("T")
    await _settle(pilot)
    await pilot.press("n")  # the first step in a finding
    await _settle(pilot)


async def _compare(pilot: Pilot[Any]) -> None:
    # a run with a 2-minute failed deploy and a rollback, against its previous similar run (carol's)
    await pilot.press("slash", *'trace_id="agent-session-56-step-7"', "enter")
    await _settle(pilot)
    await pilot.press("t")
    await _settle(pilot)
    await pilot.press("p")
    await _settle(pilot)
    await pilot.press("n", "n", "n", "n")  # to the deploy: much slower, exit 0 → 1, params changed
    await _settle(pilot)


async def _export(pilot: Pilot[Any]) -> None:
    # a failing trace (the whole of it, not only its failed steps) as OpenTelemetry spans, GenAI conventions
    await pilot.press("slash", *"exit_code!=0", "enter")
    await _settle(pilot)
    await pilot.press("t")
    await _settle(pilot)
    await pilot.press("x")  # on a trace: the trace is the scope
    await _settle(pilot)
    await pilot.press("shift+tab", "right", "enter")  # from the file name back to the format: OTLP/JSON
    await _settle(pilot)
    await pilot.press("tab", "space")  # the GenAI conventions
    await _settle(pilot)


async def _rejects(pilot: Pilot[Any]) -> None:
    await pilot.press("r")
    await _settle(pilot)


async def _help(pilot: Pilot[Any]) -> None:
    await pilot.press("question_mark")
    await _settle(pilot)


#: File name (without ``.svg``) → the Pilot steps that lead from the loaded records view to the screen.
SHOTS: Final[dict[str, Shot]] = {
    "records": _records,
    "filter-error": _filter_error,
    "detail": _detail,
    "traces": _traces,
    "timeline": _timeline,
    "findings": _findings,
    "compare": _compare,
    "export": _export,
    "rejects": _rejects,
    "help": _help,
}


async def _shoot(name: str, shot: Shot, samples: Path, out: Path, size: tuple[int, int]) -> Path:
    from auditview.launch import AppOptions
    from auditview.tui.app import create_app

    app = create_app(AppOptions(paths=[str(samples)], follow=False), clock=frozen_clock)
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        await shot(pilot)
        path = Path(app.save_screenshot(f"{name}.svg", str(out)))
    path.write_text(pin_leading_spaces(path.read_text(encoding="utf-8")), encoding="utf-8")
    return path


_TEXT_WITH_LEADING_SPACES = re.compile(
    r'(<text [^>]*?x=")([0-9.]+)("[^>]*?textLength=")([0-9.]+)("[^>]*>)((?:&#160;)+)'
)


def pin_leading_spaces(svg: str) -> str:
    """Move leading spaces of each text run into its ``x`` (the picture is unchanged).

    Rich writes spaces as ``&#160;`` inside runs stretched to a ``textLength``; librsvg (``rsvg-convert``,
    and so many image previews) drops them at the start of a run, which glues words together ("Traces51")
    and hides indentation. Shifting the run instead keeps every renderer faithful.
    """

    def shift(match: re.Match[str]) -> str:
        spaces = match.group(6).count("&#160;")
        x, length = float(match.group(2)), float(match.group(4))
        runs = re.match(r"[^<]*", svg[match.end() :])
        chars = spaces + len(html.unescape(runs.group(0) if runs else ""))
        cell = length / chars if chars else 0.0
        return (
            f"{match.group(1)}{x + spaces * cell:g}{match.group(3)}"
            f"{max(length - spaces * cell, 0):g}{match.group(5)}"
        )

    return _TEXT_WITH_LEADING_SPACES.sub(shift, svg)


async def take_screenshots(
    samples: Path, out: Path, *, size: tuple[int, int] = DEFAULT_SIZE, only: Sequence[str] = ()
) -> list[Path]:
    """Save the SVG of each screen in ``SHOTS`` (or only those named) into ``out``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    return [
        await _shoot(name, shot, samples, out, size)
        for name, shot in SHOTS.items()
        if not only or name in only
    ]


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``[--out DIR] [--samples DIR] [--size WxH] [NAME...]``; print the files written."""
    parser = argparse.ArgumentParser(
        prog="python -m auditview.tui.screenshots", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=Path("screenshots"), help="directory for the SVGs")
    parser.add_argument("--samples", type=Path, default=Path("sample_logs"), help="the logs to show")
    parser.add_argument("--size", type=_size, default=DEFAULT_SIZE, help="terminal size, e.g. 120x35")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"only these screens ({', '.join(SHOTS)})")
    args = parser.parse_args(argv)
    if unknown := [name for name in args.names if name not in SHOTS]:
        parser.error(f"unknown screen(s): {', '.join(unknown)}")
    if not args.samples.is_dir():
        parser.error(f"no such directory: {args.samples}")
    paths = asyncio.run(take_screenshots(args.samples, args.out, size=args.size, only=args.names))
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
