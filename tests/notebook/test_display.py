"""ScreenView / ScrollbackView: plain text, cursor, styled HTML (palette, rgb, attributes, escaping)."""

from __future__ import annotations

from wsh_nb.notebook.display import PALETTE, ScreenView, ScrollbackView, color_css, span_css


def screen(lines, cursor=(0, 0, True), rows=None, cols=10):
    return {
        "epoch": 0,
        "first_line_index": 0,
        "total_lines": len(lines),
        "lines": lines,
        "cursor": {"row": cursor[0], "col": cursor[1], "visible": cursor[2]},
        "cols": cols,
        "rows": rows or len(lines),
        "alternate_active": False,
    }


def test_plain_screen_text_lines_cursor():
    view = ScreenView(screen(["$ ls", "a  b", "", ""], cursor=(2, 0, True)))
    assert view.lines == ["$ ls", "a  b", "", ""]
    assert view.text == "$ ls\na  b\n\n"
    assert view.text.split("\n") == view.lines
    assert view.cursor == (2, 0, True) and view.cursor.row == 2
    assert view.rows == 4 and view.cols == 10
    assert repr(view) == "$ ls\na  b"  # trailing blank lines dropped
    assert not view.styled


def test_styled_spans_become_plain_lines():
    view = ScreenView(screen([[{"text": "err", "fg": {"indexed": 1}}, {"text": ": no  "}], []]))
    assert view.lines == ["err: no", ""]
    assert view.styled


def test_palette_16_256_and_rgb():
    assert color_css({"indexed": 1}) == "#cd0000"
    assert color_css({"indexed": 9}) == "#ff0000"
    assert color_css({"indexed": 16}) == "#000000"
    assert color_css({"indexed": 196}) == "#ff0000"
    assert color_css({"indexed": 21}) == "#0000ff"
    assert color_css({"indexed": 232}) == "#080808"
    assert color_css({"indexed": 255}) == "#eeeeee"
    assert color_css({"rgb": {"r": 1, "g": 2, "b": 255}}) == "#0102ff"
    assert color_css({"indexed": 300}) is None and color_css("red") is None
    assert len(PALETTE) == 256


def test_attributes_to_css():
    css = span_css(
        {"text": "x", "bold": True, "italic": True, "underline": True, "strikethrough": True, "faint": True}
    )
    assert "font-weight:bold" in css and "font-style:italic" in css
    assert "text-decoration:underline line-through" in css and "opacity" in css
    inverse = span_css({"text": "x", "fg": {"indexed": 2}, "inverse": True})
    assert "color:#1e1e1e" in inverse and "background-color:#00cd00" in inverse
    assert span_css({"text": "plain"}) == ""


def test_html_renders_colours_and_escapes_text():
    view = ScreenView(
        screen(
            [
                [{"text": "<b>&", "fg": {"rgb": {"r": 255, "g": 0, "b": 0}}, "bold": True}],
                [{"text": "<script>"}],
            ],
            cursor=(1, 0, False),
        )
    )
    out = view._repr_html_()
    assert "&lt;b&gt;&amp;" in out and "&lt;script&gt;" in out
    assert "<script>" not in out and "<b>" not in out
    assert "color:#ff0000" in out and "font-weight:bold" in out
    assert out.startswith("<pre") and out.endswith("</pre>")


def test_html_marks_the_visible_cursor_cell():
    out = ScreenView(screen(["ab", ""], cursor=(0, 1, True)))._repr_html_()
    assert 'a<span style="color:#1e1e1e;background-color:#d4d4d4">b</span>' in out
    padded = ScreenView(screen(["", "x"], cursor=(0, 3, True)))._repr_html_()
    assert '   <span style="color:#1e1e1e;background-color:#d4d4d4"> </span>' in padded
    hidden = ScreenView(screen(["ab"], cursor=(0, 1, False)))._repr_html_()
    assert "background-color" not in hidden.split(">", 1)[1]


def test_pretty_printer_shows_plain_text():
    class Printer:
        out = ""

        def text(self, s):
            self.out += s

    p = Printer()
    ScreenView(screen(["hello", ""]))._repr_pretty_(p, False)
    assert p.out == "hello"


def test_blink_gets_its_keyframes():
    out = ScreenView(screen([[{"text": "!", "blink": True}]], cursor=(0, 0, False)))._repr_html_()
    assert "@keyframes wsh-blink" in out and "animation:wsh-blink" in out


def test_scrollback_view():
    view = ScrollbackView({"epoch": 0, "lines": ["one", [{"text": "two"}]], "total_lines": 30, "offset": 4})
    assert view.lines == ["one", "two"] and view.text == "one\ntwo"
    assert view.offset == 4 and view.total_lines == 30
    assert "two" in view._repr_html_()
