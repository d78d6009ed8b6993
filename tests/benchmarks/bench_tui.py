"""Terminal-app speed: first screen of a big log, key → repaint latency while indexing and while following.

Run: ``python tests/benchmarks/bench_tui.py BENCH_DIR/1m.jsonl`` (make the file with
``python -m auditview.demo.generate --records 1000000 --seed 1 --out BENCH_DIR/1m.jsonl``; keep it outside
git). Any layout's file will do: the engine benchmark leaves one per layout in its directory
(``bench_engine.py --layouts foreign`` makes ``demo-1000000-foreign.jsonl``). It prints, per scenario, the
first screen and the full index in seconds from the app's creation.

Everything runs headless through Textual's own harness (``App.run_test``), so the figures include parsing,
layout and rendering but not a terminal emulator. Key → repaint is measured inside the app (``ProbeApp``), not
around Pilot. Scenarios, once each, with ``XDG_CACHE_HOME`` in a temporary directory: a cold open (cache
empty: the cold parse runs in the child process), a warm open, a cold open with the child disabled (the old
in-process path, for comparison), and a 10k-record log growing by 1,000 records/s while following.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import RenderableType
from textual import events
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from auditview.core import live
from auditview.launch import AppOptions
from auditview.tui import app as app_module
from auditview.tui.app import AuditViewApp
from auditview.tui.widgets.records import RecordsTable

SIZE = (120, 35)


class BareApp(App[None]):
    """The baseline: one static widget."""

    def compose(self) -> ComposeResult:
        """A line of text."""
        yield Static("hello")


async def _until(pilot: Any, condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await pilot.pause(0.005)


async def bare_first_paint() -> float:
    """Seconds from creating a bare app to its first rendered screen."""
    start = time.perf_counter()
    app = BareApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        return time.perf_counter() - start


class ProbeApp(AuditViewApp):
    """The real app plus an in-app latency probe: key event created → next frame composed after its action.

    Start: ``events.Key.time`` (monotonic, stamped when the harness hands the key to the driver, as a real
    driver does when it reads the key). The records table's cursor action marks the key as handled; the end
    is the next ``App._display`` call with a compositor update (the frame a terminal would be sent; headless
    skips only the write itself). Queueing behind a busy UI thread or a GIL-holding thread is included.
    """

    CSS_PATH = str(Path(app_module.__file__).with_name("auditview.tcss"))

    def __init__(self, options: AppOptions) -> None:
        super().__init__(options)
        self.key_started: float | None = None
        self.handled = False
        self.latencies: list[float] = []
        self.during_preview: list[
            bool
        ] = []  # per latency: the preview was still shown (full index not posted)

    async def on_event(self, event: events.Event) -> None:
        """Remember when the key event was created."""
        if isinstance(event, events.Key):
            self.key_started = event.time
            self.handled = False
        await super().on_event(event)

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        if renderable is not None and self.handled and self.key_started is not None:
            self.latencies.append(time.monotonic() - self.key_started)
            self.during_preview.append(self.preview)
            self.key_started = None
            self.handled = False
        super()._display(screen, renderable)


def _patch_cursor_actions() -> None:
    """Mark the probe's key as handled when the records table has moved its cursor."""
    for name in ("action_cursor_up", "action_cursor_down"):
        real = getattr(RecordsTable, name)

        def marked(self: RecordsTable, _real: Any = real) -> Any:
            result = _real(self)
            app = self.app
            if isinstance(app, ProbeApp):
                app.handled = True
            return result

        setattr(RecordsTable, name, marked)


def _press_from_thread(
    app: ProbeApp, until: Callable[[], bool], limit: int, gap: float, out: list[int]
) -> None:
    """Like a terminal driver's input thread: press k/j ``gap`` after the last repaint, stamped when due.

    The key's ``time`` is the moment it was due, not when this thread got the GIL back, so a UI process
    starved by a GIL-holding thread shows up in full (Pilot's own presses run on the starved loop and cannot).
    """
    driver = app._driver
    assert driver is not None
    lost = 0
    for number in range(limit):
        if until():
            break
        due = time.monotonic() + gap
        time.sleep(gap)
        before = len(app.latencies)
        key = "k" if number % 2 == 0 else "j"
        event = events.Key(key, key)
        event.time = due
        event.set_sender(app)
        driver.send_message(event)
        deadline = time.monotonic() + 10
        while len(app.latencies) == before and time.monotonic() < deadline:
            time.sleep(0.002)
        if len(app.latencies) == before:
            lost += 1
    out.append(lost)


async def probe_keys(
    app: ProbeApp, until: Callable[[], bool], limit: int = 400, gap: float = 0.05
) -> tuple[list[float], int]:
    """Press k/j from a thread until ``until()`` or ``limit`` presses; in-app latencies and presses lost."""
    app.latencies.clear()
    app.during_preview.clear()
    lost: list[int] = []
    thread = threading.Thread(target=_press_from_thread, args=(app, until, limit, gap, lost), daemon=True)
    thread.start()
    while thread.is_alive():
        await asyncio.sleep(0.01)
    return list(app.latencies), lost[0] if lost else 0


def _stats(prefix: str, values: list[float]) -> dict[str, float]:
    if not values:
        return {f"{prefix}_n": 0.0}
    ordered = sorted(values)
    return {
        f"{prefix}_n": float(len(values)),
        f"{prefix}_median_ms": statistics.median(values) * 1000,
        f"{prefix}_p95_ms": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000,
        f"{prefix}_max_ms": ordered[-1] * 1000,
    }


async def open_big(path: Path, label: str) -> dict[str, float]:
    """First screen, full index, keys during indexing and when idle (one open of the big log)."""
    start = time.perf_counter()
    app = ProbeApp(AppOptions(paths=[str(path)], follow=False))
    figures: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.records.row_count > 0)
        figures[f"{label}_first_screen_s"] = time.perf_counter() - start

        def done() -> bool:
            return (
                app.indexing_seconds is not None
                and not app.preview
                and app.records.row_count == app.frame.height
            )

        during, lost = await probe_keys(app, done)
        figures.update(_stats(f"{label}_indexing", during))
        phases = list(zip(during, app.during_preview, strict=False))
        figures.update(_stats(f"{label}_parse", [value for value, preview in phases if preview]))
        figures.update(_stats(f"{label}_posted", [value for value, preview in phases if not preview]))
        figures[f"{label}_indexing_lost"] = float(lost)
        await _until(pilot, done)
        figures[f"{label}_full_index_s"] = time.perf_counter() - start
        figures["records"] = app.frame.height
        idle, _ = await probe_keys(app, lambda: False, limit=30)
        figures.update(_stats(f"{label}_idle", idle))
    return figures


def _writer(path: Path, rate: int, stop: threading.Event, written: list[int]) -> None:
    """Append ``rate`` records per second in 10 batches a second."""
    number = 0
    batch = rate // 10
    while not stop.is_set():
        tick = time.perf_counter()
        lines = []
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for _ in range(batch):
            number += 1
            lines.append(
                orjson.dumps(
                    {
                        "timestamp": now,
                        "tool": "benchctl",
                        "command": "step",
                        "params": {"n": number},
                        "exit_code": 0,
                        "duration_ms": 12.5,
                        "request_id": f"bench-{number}",
                        "trace_id": f"bench-trace-{number // 10}",
                        "version": "1",
                        "operator": "bench",
                    }
                )
                + b"\n"
            )
        with path.open("ab") as out:
            out.write(b"".join(lines))
        written[0] = number
        stop.wait(max(0.1 - (time.perf_counter() - tick), 0))


async def following(base_records: int, rate: int, seconds: float) -> dict[str, float]:
    """In-app key latency while a log of ``base_records`` grows by ``rate`` records per second."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "audit.jsonl"
        stop = threading.Event()
        written = [0]
        seed = threading.Thread(target=_writer, args=(log, base_records * 10, stop, written))
        seed.start()
        time.sleep(0.1)
        stop.set()
        seed.join()
        stop.clear()
        app = ProbeApp(AppOptions(paths=[str(log)], follow=True))
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.indexing_seconds is not None and app.records.row_count > 0)
            thread = threading.Thread(target=_writer, args=(log, rate, stop, written))
            thread.start()
            began = time.perf_counter()
            try:
                latencies, lost = await probe_keys(
                    app, lambda: time.perf_counter() - began > seconds, limit=10_000
                )
            finally:
                stop.set()
                thread.join()
            await pilot.pause(0.5)
            arrived = app.frame.height
        return {**_stats("follow", latencies), "follow_lost": float(lost), "follow_rows": float(arrived)}


def _fmt(figures: dict[str, float], prefix: str) -> str:
    if not figures.get(f"{prefix}_n"):
        return "no presses"
    return (
        f"{figures[f'{prefix}_median_ms']:.0f} / {figures[f'{prefix}_p95_ms']:.0f} / "
        f"{figures[f'{prefix}_max_ms']:.0f} ms (n={int(figures[f'{prefix}_n'])})"
    )


def main() -> int:
    """Print the figures as a small table (each scenario once; the cache lives in a temporary directory)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log", type=Path, help="the big log (e.g. 1M records)")
    parser.add_argument("--follow-seconds", type=float, default=20.0, help="0: skip the following scenario")
    parser.add_argument("--skip-in-process", action="store_true", help="skip the cold load without the child")
    args = parser.parse_args()
    _patch_cursor_actions()
    with tempfile.TemporaryDirectory() as cache_home:
        os.environ["XDG_CACHE_HOME"] = cache_home
        os.environ.pop("AUDITVIEW_CACHE", None)
        index_dir = Path(cache_home) / "auditview" / "index"
        bare = asyncio.run(bare_first_paint())
        shutil.rmtree(index_dir, ignore_errors=True)
        cold = asyncio.run(open_big(args.log, "cold"))
        warm = asyncio.run(open_big(args.log, "warm"))
        before: dict[str, float] = {}
        if not args.skip_in_process:
            shutil.rmtree(index_dir, ignore_errors=True)
            real = getattr(live, "uncached_bytes")  # noqa: B009
            setattr(live, "uncached_bytes", lambda sources: 0)  # noqa: B010  # never the child
            try:
                before = asyncio.run(open_big(args.log, "inproc"))
            finally:
                setattr(live, "uncached_bytes", real)  # noqa: B010
        follow = asyncio.run(following(10_000, 1_000, args.follow_seconds)) if args.follow_seconds > 0 else {}

    size_mb = args.log.stat().st_size / 1e6
    print(f"log: {args.log.name}, {int(cold['records']):,} records, {size_mb:.0f} MB; one run each")
    print(
        "key → repaint, in-app: key due (pressed from a thread) → next frame composed after the cursor moved"
    )
    print(f"bare Textual app first paint: {bare:.2f}s")
    rows = [("cold, child process", cold, "cold"), ("warm (cache)", warm, "warm")]
    if before:
        rows.append(("cold, in-process (old path)", before, "inproc"))
    for title, figures, label in rows:
        print(
            f"{title:<30} first screen {figures[f'{label}_first_screen_s']:.2f}s · full index "
            f"{figures[f'{label}_full_index_s']:.2f}s"
        )
        print(f"{'':<30} key while indexing median/p95/max {_fmt(figures, f'{label}_indexing')}")
        print(f"{'':<30} … while the preview shows (parse) {_fmt(figures, f'{label}_parse')}")
        print(f"{'':<30} … after the full index was posted {_fmt(figures, f'{label}_posted')}")
        print(f"{'':<30} key idle after load median/p95/max {_fmt(figures, f'{label}_idle')}")
    if follow:
        print(
            f"following 1,000 rec/s ({args.follow_seconds:.0f}s): key median/p95/max {_fmt(follow, 'follow')}"
        )
        print(
            f"rows after following: {int(follow['follow_rows']):,};"
            f" presses with no repaint: {int(follow['follow_lost'])}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
