"""The volume strip: records over time for the current view, as one row of unicode blocks plus a marker row.

Counts are computed by the app's filter worker (``VolumeBuckets``, a few hundred fine buckets) and handed
down; the strip only regroups them to its width. Failures are marked ``✗`` and slow steps ``◷`` on the second
row, so the strip still says something with ``NO_COLOR``.
"""

from __future__ import annotations

from typing import ClassVar, Final

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from auditview.core.view import VolumeBuckets

__all__ = ["VolumeStrip", "regroup"]

_BLOCKS: Final = " ▁▂▃▄▅▆▇█"
_GUTTER: Final = 9


def regroup(values: list[int], width: int) -> list[int]:
    """Sum ``values`` into ``width`` groups of (nearly) equal size."""
    if width <= 0:
        return []
    if not values:
        return [0] * width
    out = [0] * width
    count = len(values)
    for index, value in enumerate(values):
        out[index * width // count] += value
    return out


class VolumeStrip(Widget):
    """Two lines: volume per time bucket (block height), then ✗ where records failed and ◷ where they were
    slow."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"volume--ok", "volume--failed", "volume--slow", "volume--label"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._buckets = VolumeBuckets(None, None)

    def show(self, buckets: VolumeBuckets) -> None:
        """Show new counts."""
        self._buckets = buckets
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """Render the bar row (0) or the marker row (1)."""
        width = self.size.width
        label_style = self.rich_style + self.get_component_rich_style("volume--label")
        bars = max(width - _GUTTER, 0)
        buckets = self._buckets
        ok = regroup(list(buckets.ok), bars)
        failed = regroup(list(buckets.failed), bars)
        slow = regroup(list(buckets.slow), bars)
        totals = [a + b + c for a, b, c in zip(ok, failed, slow, strict=True)]
        if y == 0:
            label = buckets.start.strftime("%H:%M:%S") if buckets.start else "volume"
            segments = [Segment(label.ljust(_GUTTER)[:_GUTTER], label_style)]
            peak = max(totals, default=0)
            for total, bad, late in zip(totals, failed, slow, strict=True):
                level = 0 if not total else max(1, round(total / peak * 8)) if peak else 0
                part = "volume--failed" if bad else "volume--slow" if late else "volume--ok"
                segments.append(
                    Segment(_BLOCKS[level], self.rich_style + self.get_component_rich_style(part))
                )
            return Strip(segments).crop_extend(0, width, self.rich_style)
        if y == 1:
            label = buckets.end.strftime("%H:%M:%S") if buckets.end else ""
            segments = [Segment(label.ljust(_GUTTER)[:_GUTTER], label_style)]
            for bad, late in zip(failed, slow, strict=True):
                if bad:
                    segments.append(
                        Segment("✗", self.rich_style + self.get_component_rich_style("volume--failed"))
                    )
                elif late:
                    segments.append(
                        Segment("◷", self.rich_style + self.get_component_rich_style("volume--slow"))
                    )
                else:
                    segments.append(Segment(" ", self.rich_style))
            return Strip(segments).crop_extend(0, width, self.rich_style)
        return Strip.blank(width, self.rich_style)
