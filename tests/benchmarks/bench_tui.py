"""Terminal-app speed: first screen of a big log, key → repaint latency while indexing and while following.

Run: ``python tests/benchmarks/bench_tui.py BENCH_DIR/1m.jsonl`` (make the file with
``python -m auditview.demo.generate --records 1000000 --seed 1 --out BENCH_DIR/1m.jsonl``; keep it outside
git).

Everything runs headless through Textual's own harness (``App.run_test``), so the figures include parsing,
layout and rendering but not a terminal emulator. Each figure is printed beside a baseline measured in the
same run: a bare Textual app's first paint, and the same key press on an idle app. Medians of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
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
from textual.app import App, ComposeResult
from textual.widgets import Static

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from auditview.tui.app import AppOptions, AuditViewApp, create_app

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


async def key_latency(app: AuditViewApp, pilot: Any, presses: int = 20) -> list[float]:
    """Seconds from a key press to the end of the repaint it caused (j/k alternating)."""
    out = []
    for number in range(presses):
        start = time.perf_counter()
        await pilot.press("k" if number % 2 == 0 else "j")
        await pilot.pause()
        out.append(time.perf_counter() - start)
    return out


async def first_screen(path: Path) -> dict[str, float]:
    """First records on screen, full index, and key latency while the index is being built."""
    start = time.perf_counter()
    app = create_app(AppOptions(paths=[str(path)], follow=False))
    figures: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.records.row_count > 0)
        figures["first_screen_s"] = time.perf_counter() - start
        figures["first_screen_preview"] = float(app.preview)
        latencies = await key_latency(app, pilot) if app.preview else []
        figures["key_while_indexing_ms"] = statistics.median(latencies) * 1000 if latencies else float("nan")
        figures["key_while_indexing_max_ms"] = max(latencies) * 1000 if latencies else float("nan")
        await _until(pilot, lambda: app.indexing_seconds is not None and not app.preview)
        await _until(pilot, lambda: app.records.row_count == app.frame.height)
        figures["full_index_s"] = time.perf_counter() - start
        figures["records"] = app.frame.height
        idle = await key_latency(app, pilot)
        figures["key_idle_ms"] = statistics.median(idle) * 1000
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
    """Key latency while a log of ``base_records`` grows by ``rate`` records per second."""
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
        app = create_app(AppOptions(paths=[str(log)], follow=True))
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.records.row_count > 0)
            thread = threading.Thread(target=_writer, args=(log, rate, stop, written))
            thread.start()
            latencies: list[float] = []
            began = time.perf_counter()
            try:
                while time.perf_counter() - began < seconds:
                    latencies.extend(await key_latency(app, pilot, presses=10))
                    await pilot.pause(0.05)
            finally:
                stop.set()
                thread.join()
            arrived = app.records.row_count
        return {
            "follow_key_ms": statistics.median(latencies) * 1000,
            "follow_key_p95_ms": statistics.quantiles(latencies, n=20)[-1] * 1000,
            "follow_rows_seen": arrived,
            "follow_rate": rate,
        }


def main() -> int:
    """Print the figures as a small table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log", type=Path, help="the big log (e.g. 1M records)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--follow-seconds", type=float, default=5.0)
    args = parser.parse_args()

    bare = [asyncio.run(bare_first_paint()) for _ in range(args.runs)]
    runs = [asyncio.run(first_screen(args.log)) for _ in range(args.runs)]
    follow = asyncio.run(following(10_000, 1_000, args.follow_seconds))

    def med(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    size_mb = args.log.stat().st_size / 1e6
    print(
        f"log: {args.log.name}, {int(runs[0]['records']):,} records, {size_mb:.0f} MB; medians of {args.runs}"
    )
    print(f"{'measure':<46} {'auditview':>12} {'baseline':>12}")
    print(f"{'first paint (bare Textual app = baseline)':<46} {'':>12} {statistics.median(bare):>11.2f}s")
    print(
        f"{'first screen with newest records':<46} {med('first_screen_s'):>11.2f}s"
        f" {statistics.median(bare):>11.2f}s"
    )
    print(f"{'full index built and shown':<46} {med('full_index_s'):>11.2f}s {'':>12}")
    print(
        f"{'key → repaint while indexing (median)':<46} {med('key_while_indexing_ms'):>10.1f}ms"
        f" {med('key_idle_ms'):>10.1f}ms  (baseline: same key, idle)"
    )
    print(f"{'key → repaint while indexing (max)':<46} {med('key_while_indexing_max_ms'):>10.1f}ms")
    print(
        f"{'key → repaint following 1,000 rec/s (median)':<46} {follow['follow_key_ms']:>10.1f}ms"
        f" {med('key_idle_ms'):>10.1f}ms"
    )
    print(f"{'key → repaint following 1,000 rec/s (p95)':<46} {follow['follow_key_p95_ms']:>10.1f}ms")
    print(f"rows on screen after following: {int(follow['follow_rows_seen']):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
