"""Screens as notebook objects: plain text for ``print``/``repr``, styled HTML for the front end.

``ScreenView`` wraps a wire Screen (WIRE.md §3, ``format=styled`` or ``plain``); ``ScrollbackView`` wraps a
scrollback page.  Styled lines are arrays of spans ``{"text", "fg"?, "bg"?, "bold"?, …}`` with colours
``{"indexed": n}`` (the xterm 256-colour palette) or ``{"rgb": {"r", "g", "b"}}``.  Every piece of text is
HTML-escaped before it reaches markup; style values are built from numbers only.
"""

from __future__ import annotations

import html
from typing import Any, NamedTuple

DEFAULT_FG = "#d4d4d4"
DEFAULT_BG = "#1e1e1e"

# xterm's 16 base colours (0-7 normal, 8-15 bright)
_BASE16 = (
    "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
    "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
)  # fmt: skip
_CUBE = (0, 95, 135, 175, 215, 255)


def _hex(r: int, g: int, b: int) -> str:
    return f"#{max(0, min(255, r)):02x}{max(0, min(255, g)):02x}{max(0, min(255, b)):02x}"


def _palette(n: int) -> str:
    if n < 16:
        return _BASE16[n]
    if n < 232:
        n -= 16
        return _hex(_CUBE[n // 36], _CUBE[(n // 6) % 6], _CUBE[n % 6])
    level = 8 + 10 * (n - 232)
    return _hex(level, level, level)


PALETTE: tuple[str, ...] = tuple(_palette(n) for n in range(256))


def color_css(color: Any) -> str | None:
    """A wire colour → ``#rrggbb``; anything malformed → ``None`` (the default colour)."""
    if not isinstance(color, dict):
        return None
    indexed = color.get("indexed")
    if isinstance(indexed, int) and not isinstance(indexed, bool) and 0 <= indexed < 256:
        return PALETTE[indexed]
    rgb = color.get("rgb")
    if isinstance(rgb, dict):
        parts = [rgb.get(k) for k in ("r", "g", "b")]
        if all(isinstance(p, int) and not isinstance(p, bool) for p in parts):
            return _hex(*parts)  # type: ignore[arg-type]
    return None


def span_css(span: dict[str, Any]) -> str:
    """The inline CSS of one styled span (empty for default attributes)."""
    fg, bg = color_css(span.get("fg")), color_css(span.get("bg"))
    if span.get("inverse"):
        fg, bg = bg or DEFAULT_BG, fg or DEFAULT_FG
    css = []
    if fg:
        css.append(f"color:{fg}")
    if bg:
        css.append(f"background-color:{bg}")
    if span.get("bold"):
        css.append("font-weight:bold")
    if span.get("faint"):
        css.append("opacity:0.6")
    if span.get("italic"):
        css.append("font-style:italic")
    decorations = [
        d for d, key in (("underline", "underline"), ("line-through", "strikethrough")) if span.get(key)
    ]
    if decorations:
        css.append("text-decoration:" + " ".join(decorations))
    if span.get("blink"):
        css.append("animation:wsh-blink 1s step-start infinite")  # keyframes: _BLINK_STYLE
    return ";".join(css)


Span = dict[str, Any]


def _spans(line: Any) -> list[Span]:
    """A wire line (plain string or array of spans) → spans with string text."""
    if isinstance(line, str):
        return [{"text": line}]
    if isinstance(line, list):
        return [
            s if isinstance(s.get("text"), str) else {**s, "text": str(s.get("text", ""))}
            for s in line
            if isinstance(s, dict)
        ]
    return []


def _plain(line: Any) -> str:
    return "".join(s["text"] for s in _spans(line)).rstrip()


def _render_spans(spans: list[Span]) -> str:
    out = []
    for span in spans:
        text = html.escape(span["text"])
        css = span_css(span)
        out.append(f'<span style="{css}">{text}</span>' if css else text)
    return "".join(out)


def _with_cursor(spans: list[Span], col: int) -> list[Span]:
    """Split the spans so the cell at ``col`` is its own inverse span (padding the line if short)."""
    out: list[Span] = []
    pos = 0
    placed = False
    for span in spans:
        text = span["text"]
        if not placed and pos <= col < pos + len(text):
            cut = col - pos
            if cut:
                out.append({**span, "text": text[:cut]})
            out.append({**span, "text": text[cut], "inverse": not span.get("inverse")})
            if text[cut + 1 :]:
                out.append({**span, "text": text[cut + 1 :]})
            placed = True
        else:
            out.append(span)
        pos += len(text)
    if not placed and col >= pos:
        if col > pos:
            out.append({"text": " " * (col - pos)})
        out.append({"text": " ", "inverse": True})
    return out


_PRE_STYLE = (
    f"font-family:monospace;line-height:1.25;background-color:{DEFAULT_BG};color:{DEFAULT_FG};"
    "padding:0.5em;margin:0;white-space:pre;overflow-x:auto;display:inline-block;min-width:0"
)


_BLINK_STYLE = "<style>@keyframes wsh-blink{50%{opacity:0}}</style>"


class Cursor(NamedTuple):
    row: int
    col: int
    visible: bool


class _LinesView:
    """Shared by screens and scrollback pages: ``.raw``, ``.lines``, ``.text``, HTML and text reprs."""

    _css_class = "wsh-lines"

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self._wire_lines: list[Any] = list(raw.get("lines") or [])
        self.lines: list[str] = [_plain(line) for line in self._wire_lines]

    @property
    def text(self) -> str:
        """The plain lines joined with ``\\n`` (``text.split("\\n") == lines``)."""
        return "\n".join(self.lines)

    @property
    def styled(self) -> bool:
        """Whether the lines carry styling (``format="styled"``)."""
        return any(isinstance(line, list) for line in self._wire_lines)

    def _trimmed(self) -> str:
        lines = list(self.lines)
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)

    def _cursor_cell(self) -> tuple[int, int] | None:
        return None

    def _repr_html_(self) -> str:
        cell = self._cursor_cell()
        rows = []
        blink = False
        for index, line in enumerate(self._wire_lines):
            spans = _spans(line)
            if cell is not None and cell[0] == index:
                spans = _with_cursor(spans, cell[1])
            blink = blink or any(s.get("blink") for s in spans)
            rows.append(_render_spans(spans))
        body = f'<pre class="{self._css_class}" style="{_PRE_STYLE}">' + "\n".join(rows) + "</pre>"
        return _BLINK_STYLE + body if blink else body

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self._trimmed())

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self._trimmed()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.raw == self.raw  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]


class ScreenView(_LinesView):
    """The visible screen of a session: ``.text``, ``.lines``, ``.cursor``, ``.raw`` (the wire dict).

    ``repr()`` / IPython's pretty printer show the plain text without trailing blank lines; a notebook
    front end renders ``_repr_html_``: the styled spans with their colours, and the cursor cell inverted
    when the cursor is visible.
    """

    _css_class = "wsh-screen"

    @property
    def cursor(self) -> Cursor:
        cur = self.raw.get("cursor") or {}
        return Cursor(int(cur.get("row", 0)), int(cur.get("col", 0)), bool(cur.get("visible", True)))

    @property
    def rows(self) -> int:
        return int(self.raw.get("rows", len(self.lines)))

    @property
    def cols(self) -> int:
        return int(self.raw.get("cols", max((len(line) for line in self.lines), default=0)))

    @property
    def alternate_active(self) -> bool:
        return bool(self.raw.get("alternate_active", False))

    @property
    def last_activity_ms(self) -> int | None:
        return self.raw.get("last_activity_ms")

    def _cursor_cell(self) -> tuple[int, int] | None:
        cursor = self.cursor
        return (cursor.row, cursor.col) if cursor.visible else None


class ScrollbackView(_LinesView):
    """A page of a session's history: ``.lines``, ``.text``, ``.offset``, ``.total_lines``, ``.raw``."""

    _css_class = "wsh-scrollback"

    @property
    def offset(self) -> int:
        return int(self.raw.get("offset", 0))

    @property
    def total_lines(self) -> int:
        return int(self.raw.get("total_lines", len(self.lines)))
