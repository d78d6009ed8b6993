"""The shared rows view: the jump search, the shared keys, and a minimal rows view driven with Pilot."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.geometry import Size
from textual.strip import Strip

from auditview.tui.widgets.rows import RowsView, cursor_bindings, next_target


class NumberRows(RowsView):
    """``count`` rows of ``LINES_PER_ROW`` lines each under a one-line header; records what it announces."""

    BINDINGS: ClassVar[list[BindingType]] = [*cursor_bindings("row")]

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.announced: list[int] = []
        self.virtual_size = Size(0, count * self.LINES_PER_ROW + self.HEADER_LINES)

    @property
    def row_count(self) -> int:
        return self.count

    def announce_cursor(self) -> None:
        self.announced.append(self.cursor)

    def render_line(self, y: int) -> Strip:
        line = self.line_at(y)
        text = "header" if line is None else f"row {line // self.LINES_PER_ROW}"
        return Strip([Segment(text)])


class PairRows(NumberRows):
    """Rows of two lines each, under a two-line header (as the compare waterfall's)."""

    HEADER_LINES: ClassVar[int] = 2
    LINES_PER_ROW: ClassVar[int] = 2


class RowsApp(App[None]):
    """One rows view filling the screen."""

    def __init__(self, view: NumberRows) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        yield self.view


def test_next_target_finds_the_nearest_after_or_before() -> None:
    """The search skips the cursor's own row and says ``None`` past the last (before the first) target."""
    targets = [2, 5, 9]
    assert next_target(targets, 0, True) == 2
    assert next_target(targets, 5, True) == 9
    assert next_target(targets, 9, True) is None
    assert next_target(targets, 5, False) == 2
    assert next_target(targets, 2, False) is None
    assert next_target([], 3, True) is None


def test_cursor_bindings_name_the_rows() -> None:
    """The shared keys move up, down, a page, to the first and the last row, and their help names the row."""
    bindings = cursor_bindings("trace")
    assert [b.key for b in bindings] == ["up,k", "down,j", "pageup", "pagedown", "home,g", "end,G"]
    assert [b.action for b in bindings] == [
        "cursor_up",
        "cursor_down",
        "page_up",
        "page_down",
        "first",
        "last",
    ]
    assert bindings[0].tooltip == "previous trace"
    assert bindings[5].tooltip == "last trace"
    assert not any(b.show for b in bindings)


async def test_keys_move_the_cursor_clamped_and_keep_it_on_screen() -> None:
    """Down, page down, end and home move the cursor within the rows; the view scrolls so it stays visible."""
    view = NumberRows(100)
    app = RowsApp(view)
    async with app.run_test(size=(40, 11)) as pilot:  # 10 lines of rows under the header
        await pilot.pause()
        assert view.body_height() == 10
        assert view.announced == [0]  # on mount
        await pilot.press("up")
        assert view.cursor == 0
        await pilot.press("down", "j")
        assert view.cursor == 2
        await pilot.press("pagedown")
        assert view.cursor == 12
        assert round(view.scroll_y) == 3  # row 12 is the last line on screen
        await pilot.press("end")
        assert view.cursor == 99
        assert round(view.scroll_y) == 90
        await pilot.press("down")
        assert view.cursor == 99
        await pilot.press("pageup", "home")
        assert view.cursor == 0
        assert round(view.scroll_y) == 0
        assert view.announced == [0, 1, 2, 12, 99, 89, 0]  # not again when the cursor stayed put


async def test_jump_moves_to_a_target_or_reports_none() -> None:
    """``jump`` lands on the nearest target in the direction asked; ``False`` when there is none."""
    view = NumberRows(30)
    app = RowsApp(view)
    async with app.run_test(size=(40, 11)) as pilot:
        await pilot.pause()
        assert view.jump([4, 25], True)
        assert view.cursor == 4
        assert view.jump([4, 25], True)
        assert view.cursor == 25
        assert not view.jump([4, 25], True)
        assert view.cursor == 25
        assert view.jump([4, 25], False)
        assert view.cursor == 4


async def test_rows_of_two_lines_scroll_and_page_by_rows() -> None:
    """With two lines a row, a page moves half as many rows and the whole cursor row is brought on screen."""
    view = PairRows(50)
    app = RowsApp(view)
    async with app.run_test(size=(40, 12)) as pilot:  # 10 lines (5 rows) under a two-line header
        await pilot.pause()
        assert view.page_rows() == 5
        await pilot.press("pagedown")
        assert view.cursor == 5
        assert round(view.scroll_y) == 2  # lines 10-11 are the last two on screen
        assert view.line_at(1) is None  # the header
        assert view.line_at(2) == 2  # the first line under the header: row 1's first line


async def test_an_empty_view_keeps_the_cursor_at_zero() -> None:
    """Keys on a view without rows leave the cursor on 0 and announce nothing new."""
    view = NumberRows(0)
    app = RowsApp(view)
    async with app.run_test(size=(40, 11)) as pilot:
        await pilot.pause()
        await pilot.press("down", "end", "pagedown")
        assert view.cursor == 0
        assert view.announced == [0]
