"""Screen: the WIRE.md Screen / scrollback shapes, colours, attributes, alternate screen, wide characters."""

from __future__ import annotations

import pytest

from wsh_nb.terminal import Screen

SCREEN_KEYS = {
    "epoch",
    "first_line_index",
    "total_lines",
    "lines",
    "cursor",
    "cols",
    "rows",
    "alternate_active",
}


def feed(screen: Screen, text: str) -> Screen:
    screen.feed(text.encode())
    return screen


def test_plain_snapshot_shape() -> None:
    s = feed(Screen(20, 5), "hello   \r\nworld")
    snap = s.snapshot("plain")
    assert set(snap) == SCREEN_KEYS
    assert snap == {
        "epoch": 0,
        "first_line_index": 0,
        "total_lines": 5,
        "lines": ["hello", "world", "", "", ""],
        "cursor": {"row": 1, "col": 5, "visible": True},
        "cols": 20,
        "rows": 5,
        "alternate_active": False,
    }
    assert s.text() == "hello\nworld\n\n\n"


def test_styled_snapshot_shape_and_empty_lines() -> None:
    snap = feed(Screen(20, 3), "plain text").snapshot()  # styled is the default
    assert set(snap) == SCREEN_KEYS
    assert snap["lines"] == [[{"text": "plain text"}], [], []]


def test_cursor_hidden() -> None:
    assert feed(Screen(10, 2), "\x1b[?25l").snapshot()["cursor"]["visible"] is False


def test_colors_indexed_and_rgb() -> None:
    s = feed(
        Screen(40, 2),
        "\x1b[31mred\x1b[0m \x1b[38;5;208;48;5;17mx\x1b[0m\x1b[38;2;1;2;3;48;2;250;251;252my\x1b[0m",
    )
    assert s.snapshot()["lines"][0] == [
        {"text": "red", "fg": {"indexed": 1}},
        {"text": " "},
        {"text": "x", "fg": {"indexed": 208}, "bg": {"indexed": 17}},
        {"text": "y", "fg": {"rgb": {"r": 1, "g": 2, "b": 3}}, "bg": {"rgb": {"r": 250, "g": 251, "b": 252}}},
    ]


@pytest.mark.parametrize(
    ("sgr", "attr"),
    [
        ("1", "bold"),
        ("2", "faint"),
        ("3", "italic"),
        ("4", "underline"),
        ("9", "strikethrough"),
        ("5", "blink"),
        ("7", "inverse"),
    ],
)
def test_each_attribute(sgr: str, attr: str) -> None:
    line = feed(Screen(10, 1), f"\x1b[{sgr}mA\x1b[0mB").snapshot()["lines"][0]
    assert line == [{"text": "A", attr: True}, {"text": "B"}]


def test_false_and_default_attributes_omitted_and_visible_blanks_kept() -> None:
    line = feed(Screen(10, 1), "\x1b[1;4;32mok\x1b[0m\x1b[44m  \x1b[0m").snapshot()["lines"][0]
    assert line == [
        {"text": "ok", "fg": {"indexed": 2}, "bold": True, "underline": True},
        {"text": "  ", "bg": {"indexed": 4}},
    ]


def test_alternate_screen_each_mode() -> None:
    for mode in ("1049", "1047", "47"):
        s = feed(Screen(20, 3), "main text")
        feed(s, f"\x1b[?{mode}h\x1b[2J\x1b[Hvim-like")
        snap = s.snapshot("plain")
        assert snap["alternate_active"] is True, mode
        assert snap["lines"][0] == "vim-like"
        feed(s, f"\x1b[?{mode}l")
        snap = s.snapshot("plain")
        assert snap["alternate_active"] is False, mode
        assert snap["lines"][0] == "main text"


def test_alternate_screen_sequence_split_across_feeds() -> None:
    s = Screen(20, 3)
    for piece in (b"x\x1b", b"[", b"?10", b"49", b"h"):
        s.feed(piece)
    assert s.snapshot()["alternate_active"] is True
    s.feed(b"\x1b[?1049")
    assert s.snapshot()["alternate_active"] is True
    s.feed(b"l")
    assert s.snapshot()["alternate_active"] is False


def test_alternate_screen_in_combined_modes_and_reset() -> None:
    s = feed(Screen(20, 3), "\x1b[?1;1049h")
    assert s.snapshot()["alternate_active"] is True
    feed(s, "\x1b[?25l\x1b[?2004h")  # other private modes change nothing
    assert s.snapshot()["alternate_active"] is True
    feed(s, "\x1bc")
    assert s.snapshot()["alternate_active"] is False


def test_alternate_screen_output_stays_out_of_history() -> None:
    s = feed(Screen(20, 3), "\x1b[?1049h" + "line\r\n" * 50)
    assert s.history_lines == 0
    feed(s, "\x1b[?1049l")
    assert s.history_lines == 0


def test_wide_characters_take_two_cells() -> None:
    s = feed(Screen(10, 2), "中文😀ab")
    snap = s.snapshot("plain")
    assert snap["lines"][0] == "中文😀ab"
    assert snap["cursor"] == {"row": 0, "col": 8, "visible": True}
    assert s.snapshot()["lines"][0] == [{"text": "中文😀ab"}]
    feed(s, "日本")  # 8 + 4 cells > 10: the second one wraps
    assert s.snapshot("plain")["lines"] == ["中文😀ab日", "本"]


def test_utf8_split_across_feeds() -> None:
    s = Screen(10, 1)
    data = "é中😀".encode()
    for i in range(len(data)):
        s.feed(data[i : i + 1])
    assert s.text() == "é中😀"
    s.feed(b"\xff!")
    assert s.text() == "é中😀\ufffd!"


def test_long_line_wraps() -> None:
    s = feed(Screen(10, 3), "0123456789abcdefghijXY")
    assert s.snapshot("plain")["lines"] == ["0123456789", "abcdefghij", "XY"]
    assert s.snapshot("plain")["cursor"] == {"row": 2, "col": 2, "visible": True}


def test_history_count_and_scrollback_paging() -> None:
    s = feed(Screen(20, 5), "".join(f"line{i}\r\n" for i in range(12)))
    # 12 lines + the cursor line = 13 rows of content; 8 scrolled off
    assert s.history_lines == 8
    assert s.total_lines == 13
    snap = s.snapshot("plain")
    assert snap["first_line_index"] == 8 and snap["total_lines"] == 13
    assert snap["lines"] == ["line8", "line9", "line10", "line11", ""]

    page = s.scrollback("plain", offset=0, limit=3)
    assert page == {"epoch": 0, "lines": ["line0", "line1", "line2"], "total_lines": 13, "offset": 0}
    assert s.scrollback("plain", offset=6, limit=4)["lines"] == ["line6", "line7", "line8", "line9"]
    assert s.scrollback("plain", offset=11, limit=100)["lines"] == ["line11", ""]
    assert s.scrollback("plain")["lines"] == [f"line{i}" for i in range(12)] + [""]
    assert s.scrollback("plain", offset=13)["lines"] == []
    assert s.scrollback("plain", offset=500) == {"epoch": 0, "lines": [], "total_lines": 13, "offset": 500}
    assert s.scrollback(offset=0, limit=1)["lines"] == [[{"text": "line0"}]]


def test_ten_thousand_lines_of_history_kept() -> None:
    s = Screen(80, 24)
    s.feed("".join(f"row {i}\r\n" for i in range(12000)).encode())
    assert s.history_lines == 10000
    assert s.total_lines == 10024
    first = s.scrollback("plain", offset=0, limit=10000)
    assert len(first["lines"]) == 10000  # the page cap
    assert first["lines"][0] == f"row {12000 - 23 - 10000}"
    assert s.scrollback("plain", offset=0, limit=50000)["lines"] == first["lines"]
    assert s.snapshot("plain")["lines"][-2] == "row 11999"


def test_scrollback_limit_is_configurable() -> None:
    s = feed(Screen(10, 2, scrollback=3), "".join(f"{i}\r\n" for i in range(10)))
    assert s.history_lines == 3
    assert s.scrollback("plain", limit=3)["lines"] == ["6", "7", "8"]


def test_big_feed_is_chunked() -> None:
    s = Screen(80, 24)
    s.feed(b"".join(b"%d\r\n" % i for i in range(1, 100001)))  # ~700 KB in one call
    assert s.snapshot("plain")["lines"][-2] == "100000"


def test_resize() -> None:
    s = feed(Screen(10, 3), "0123456789abc")
    s.resize(20, 5)
    snap = s.snapshot("plain")
    assert (snap["cols"], snap["rows"], len(snap["lines"])) == (20, 5, 5)
    assert snap["lines"][0] == "0123456789abc"  # the wrapped line reflows
    s.resize(20, 1)
    assert len(s.snapshot("plain")["lines"]) == 1
    assert s.total_lines == s.history_lines + 1


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(ValueError):
        Screen().snapshot("html")
