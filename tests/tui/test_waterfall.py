"""The trace waterfall: tree order, bars on the time axis, cursor, live updates."""

from __future__ import annotations

import pytest
from rich.color import Color as RichColor
from textual.app import App, ComposeResult
from textual.color import Color

from home_idp.tui.results import TraceSpan
from home_idp.tui.widgets.formatting import duration
from home_idp.tui.widgets.waterfall import Waterfall, tree_order

T0 = 1_700_000_000_000_000_000  # ns; big, like real Unix times, to catch float rounding


def make_span(
    span_id: str,
    name: str,
    start_ms: float,
    end_ms: float,
    parent: str | None = None,
    status: str = "OK",
) -> TraceSpan:
    return {
        "spanId": span_id.rjust(16, "0"),
        "parentSpanId": parent.rjust(16, "0") if parent else None,
        "name": name,
        "startTimeUnixNano": str(T0 + int(start_ms * 1_000_000)),
        "endTimeUnixNano": str(T0 + int(end_ms * 1_000_000)),
        "durationMs": end_ms - start_ms,
        "status": status,
        "statusMessage": "boom" if status == "ERROR" else "",
        "serviceName": "api",
        "attributes": {},
    }


class WaterfallApp(App[None]):
    def __init__(self, spans: list[TraceSpan]) -> None:
        super().__init__()
        self.spans = spans
        self.selected: list[TraceSpan] = []
        self.highlighted: list[TraceSpan] = []

    def compose(self) -> ComposeResult:
        yield Waterfall(self.spans)

    def on_waterfall_span_selected(self, message: Waterfall.SpanSelected) -> None:
        self.selected.append(message.span)

    def on_waterfall_span_highlighted(self, message: Waterfall.SpanHighlighted) -> None:
        self.highlighted.append(message.span)


def trace() -> list[TraceSpan]:
    # Deliberately out of order: the widget must sort them.
    return [
        make_span("b", "GET /users", 500, 1000, parent="r"),
        make_span("a1", "SELECT users", 100, 200, parent="a"),
        make_span("r", "request", 0, 1000),
        make_span("a", "auth", 0, 400, parent="r", status="ERROR"),
    ]


def bar_cells(text: str) -> list[int]:
    return [x for x, char in enumerate(text) if char == "█"]


async def test_rows_in_tree_order_with_indentation() -> None:
    app = WaterfallApp(trace())
    async with app.run_test(size=(100, 20)):
        waterfall = app.query_one(Waterfall)
        assert [span["name"] for span in waterfall.rows] == [
            "request",
            "auth",
            "SELECT users",
            "GET /users",
        ]
        lines = [waterfall.render_line(y).text for y in range(6)]
        assert lines[0].split()[-1] == "s"  # the scale ends with the total, "1.0 s"
        assert "0" in lines[0]
        assert lines[0].rstrip().endswith("1.0 s")
        assert lines[1].startswith("request ")
        assert lines[2].startswith("  auth ")
        assert lines[3].startswith("    SELECT users ")
        assert lines[4].startswith("  GET /users ")
        assert lines[1].rstrip().endswith("1.0 s")
        assert lines[3].rstrip().endswith("100 ms")
        assert lines[5].strip() == ""
        assert all(len(line) == 100 for line in lines)


async def test_bars_are_placed_and_scaled_on_the_time_axis() -> None:
    app = WaterfallApp(trace())
    async with app.run_test(size=(100, 20)):
        waterfall = app.query_one(Waterfall)
        root = bar_cells(waterfall.render_line(1).text)
        left, width = root[0], len(root)
        assert root == list(range(left, left + width))  # the root spans the whole axis
        assert 30 <= left <= 32  # after a name column of ~30% of 100 cells
        child = bar_cells(waterfall.render_line(4).text)  # 500..1000 of 1000 ms
        assert abs((child[0] - left) / width - 0.5) < 0.03
        assert child[-1] == root[-1]
        auth = bar_cells(waterfall.render_line(2).text)  # 0..400 ms
        assert auth[0] == left
        assert abs(len(auth) / width - 0.4) < 0.03


async def test_a_tiny_span_still_gets_one_cell() -> None:
    spans = [make_span("r", "root", 0, 1000), make_span("t", "tick", 300, 300.001, parent="r")]
    app = WaterfallApp(spans)
    async with app.run_test(size=(100, 20)):
        waterfall = app.query_one(Waterfall)
        text = waterfall.render_line(2).text
        assert len(bar_cells(text)) == 1
        assert text.rstrip().endswith("1 µs")


async def test_error_bars_use_the_theme_error_colour() -> None:
    app = WaterfallApp(trace())
    async with app.run_test(size=(100, 20)):
        waterfall = app.query_one(Waterfall)

        def bar_colour(y: int) -> RichColor | None:
            styles = {seg.style for seg in waterfall.render_line(y) if "█" in seg.text}
            assert len(styles) == 1
            style = styles.pop()
            assert style is not None
            return style.color

        error = Color.parse(app.theme_variables["error"]).rich_color
        assert bar_colour(2) == error  # auth, ERROR
        assert bar_colour(3) != error  # SELECT users, OK
        assert bar_colour(1) == bar_colour(3)


async def test_cursor_keys_and_enter_select_a_span() -> None:
    app = WaterfallApp(trace())
    async with app.run_test(size=(100, 20)) as pilot:
        waterfall = app.query_one(Waterfall)
        assert waterfall.has_focus
        assert waterfall.selected_span is not None
        assert waterfall.selected_span["name"] == "request"
        await pilot.press("down", "down", "up")
        assert waterfall.selected_span["name"] == "auth"
        await pilot.press("enter")
        await pilot.pause()
        assert [span["name"] for span in app.selected] == ["auth"]
        assert [span["name"] for span in app.highlighted] == [
            "request",
            "auth",
            "SELECT users",
            "auth",
        ]
        await pilot.press("end")
        assert waterfall.selected_span["name"] == "GET /users"
        await pilot.press("down")  # stays on the last row
        assert waterfall.cursor_row == 3
        await pilot.press("home")
        assert waterfall.cursor_row == 0


async def test_the_cursor_row_is_highlighted() -> None:
    app = WaterfallApp(trace())
    async with app.run_test(size=(100, 20)):
        waterfall = app.query_one(Waterfall)

        def background(y: int) -> RichColor | None:
            style = next(iter(waterfall.render_line(y))).style
            assert style is not None
            return style.bgcolor

        assert background(1) != background(2)
        waterfall.action_cursor_down()
        assert background(2) != background(1)
        assert background(1) == background(3)


async def test_click_highlights_then_selects() -> None:
    app = WaterfallApp(trace())
    async with app.run_test(size=(100, 20)) as pilot:
        waterfall = app.query_one(Waterfall)
        await pilot.click(Waterfall, offset=(5, 3))  # line 3 is the third row
        assert waterfall.selected_span is not None
        assert waterfall.selected_span["name"] == "SELECT users"
        assert app.selected == []
        await pilot.click(Waterfall, offset=(5, 3))
        await pilot.pause()
        assert [span["name"] for span in app.selected] == ["SELECT users"]
        await pilot.click(Waterfall, offset=(5, 0))  # the header
        assert waterfall.selected_span["name"] == "SELECT users"


async def test_add_span_inserts_in_tree_order_and_keeps_the_selection() -> None:
    app = WaterfallApp(trace())
    async with app.run_test(size=(100, 20)) as pilot:
        waterfall = app.query_one(Waterfall)
        await pilot.press("end")
        assert waterfall.selected_span is not None
        assert waterfall.selected_span["name"] == "GET /users"

        waterfall.add_span(make_span("c", "cache", 450, 480, parent="r"))
        assert [span["name"] for span in waterfall.rows] == [
            "request",
            "auth",
            "SELECT users",
            "cache",
            "GET /users",
        ]
        assert waterfall.selected_span["name"] == "GET /users"
        assert waterfall.cursor_row == 4

        # Replacing a span by id updates it in place; a later span rescales the axis.
        waterfall.add_span(make_span("b", "GET /users", 500, 1000, parent="r", status="ERROR"))
        waterfall.add_span(make_span("z", "late", 1500, 2000))
        assert len(waterfall.rows) == 6
        assert waterfall.selected_span["status"] == "ERROR"
        assert waterfall.render_line(0).text.rstrip().endswith("2.0 s")
        root = bar_cells(waterfall.render_line(1).text)
        late = bar_cells(waterfall.render_line(6).text)
        assert abs(len(root) / (late[-1] - root[0] + 1) - 0.5) < 0.03
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected[-1]["status"] == "ERROR"


async def test_live_spans_arriving_children_first_end_up_in_tree_order() -> None:
    # Children end, and so are exported, before their parents.
    app = WaterfallApp([])
    async with app.run_test(size=(100, 20)) as pilot:
        waterfall = app.query_one(Waterfall)
        b, a1, r, a = trace()
        for span in (a1, b, a, r):
            waterfall.add_span(span)
        await pilot.pause()
        # The burst is laid out once, so only the final first row was highlighted.
        assert [span["name"] for span in app.highlighted] == ["request"]
        lines = [waterfall.render_line(y).text for y in range(1, 5)]
        assert [line[:20].rstrip() for line in lines] == [
            "request",
            "  auth",
            "    SELECT users",
            "  GET /users",
        ]


async def test_the_root_is_highlighted_when_it_arrives_after_its_children() -> None:
    app = WaterfallApp([])
    async with app.run_test(size=(100, 20)) as pilot:
        waterfall = app.query_one(Waterfall)
        b, a1, r, a = trace()
        for span in (a1, b, a, r):  # one at a time, as a live trace sends them
            waterfall.add_span(span)
            await pilot.pause()
        assert waterfall.cursor_row == 0
        assert waterfall.selected_span is not None and waterfall.selected_span["name"] == "request"
        # Once the user moves, the highlight follows their span as new ones arrive.
        await pilot.press("down")
        waterfall.add_span(make_span("c", "cache", 5, 10, parent="r"))
        await pilot.pause()
        assert waterfall.selected_span["name"] == "auth"


async def test_empty_state_and_set_spans() -> None:
    app = WaterfallApp([])
    async with app.run_test(size=(100, 20)) as pilot:
        waterfall = app.query_one(Waterfall)
        assert "No spans yet" in waterfall.render_line(0).text
        assert waterfall.selected_span is None
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.selected == []

        waterfall.set_spans(trace())
        assert len(waterfall.rows) == 4
        assert "No spans yet" not in waterfall.render_line(0).text
        waterfall.set_spans([])
        assert waterfall.rows == []
        assert "No spans yet" in waterfall.render_line(0).text


async def test_a_thousand_spans_scroll_with_the_cursor() -> None:
    spans = [make_span("r", "root", 0, 1000)]
    spans += [make_span(f"s{i}", f"step {i}", i, i + 1, parent="r") for i in range(999)]
    app = WaterfallApp(spans)
    async with app.run_test(size=(100, 20)) as pilot:
        waterfall = app.query_one(Waterfall)
        assert len(waterfall.rows) == 1000
        await pilot.press("end")
        assert waterfall.cursor_row == 999
        assert waterfall.scroll_y > 0
        await pilot.pause()
        lines = [waterfall.render_line(y).text for y in range(20)]
        assert lines[0].rstrip().endswith("1.0 s")  # the header stays put
        assert lines[-1].startswith("  step 998 ")
        await pilot.press("pageup")
        assert 970 < waterfall.cursor_row < 990
        await pilot.press("home")
        assert waterfall.scroll_y == 0


def test_tree_order_survives_cycles_and_orphans() -> None:
    spans = [
        make_span("x", "x", 30, 40, parent="y"),  # x and y are each other's parent
        make_span("y", "y", 20, 50, parent="x"),
        make_span("o", "orphan", 10, 20, parent="gone"),
        make_span("s", "self", 5, 6, parent="s"),
        make_span("k", "kid", 35, 36, parent="x"),
    ]
    order = tree_order(spans)
    assert sorted(span["name"] for span, _ in order) == sorted(span["name"] for span in spans)
    assert [(span["name"], depth) for span, depth in order] == [
        ("self", 0),
        ("orphan", 0),
        ("y", 0),  # the earliest span of the cycle becomes its root
        ("x", 1),
        ("kid", 2),
    ]


def test_tree_order_keeps_one_copy_per_span_id() -> None:
    first = make_span("a", "old", 0, 1)
    second = make_span("a", "new", 0, 2)
    assert [span["name"] for span, _ in tree_order([first, second])] == ["new"]
    assert tree_order([]) == []


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0 ms"),
        (-3, "0 ms"),
        (0.85, "850 µs"),
        (0.9996, "1 ms"),
        (12.3, "12 ms"),
        (999.7, "1.0 s"),
        (1400, "1.4 s"),
        (59_999, "1m00s"),
        (125_000, "2m05s"),
        (3_720_000, "1h02m"),
        (float("nan"), "0 ms"),
        (None, "—"),
    ],
)
def test_duration(ms: float | None, text: str) -> None:
    assert duration(ms) == text
