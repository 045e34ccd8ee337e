"""The VT emulator behind a small adapter: bytes in, WIRE.md ``Screen`` / scrollback documents out.

The emulator is pyavt (asciinema's avt, the one upstream wsh uses); nothing outside this module knows.
How it is driven, and why:

- Text is decoded with an incremental UTF-8 decoder (``errors="replace"``), so a character split across
  PTY reads is kept, and handed to ``Vt.feed_str`` in pieces of at most 64 Ki characters (one huge string
  runs at ~1 MB/s).
- The ``Vt`` keeps no history of its own (``scrollback_limit=0``): every line that scrolls off the top
  comes back from ``feed_str`` and goes into our own ``deque(maxlen=scrollback)``.  That gives the history
  count for free and lets scrollback pages be read without ``Vt.lines()`` (~3 ms at 10k lines).  History
  lines are not reflowed on resize; the visible screen is.
- pyavt has no alternate-screen flag, so ``CSI ?1049/?1047/?47 h/l`` (and ``ESC c``) are tracked here,
  also when a sequence is split across feeds.

Styled lines are lists of spans ``{"text", "fg"?, "bg"?, "bold"?, ...}`` with false/default attributes
omitted.  Trailing blank cells with the default pen are trimmed, so an empty line is ``[]``; blanks with a
background colour or another visible attribute are kept.
"""

from __future__ import annotations

import codecs
import re
from collections import deque
from itertools import islice
from typing import Any

import avt

from wsh_nb.wire import SPAN_FLAGS

_FEED_CHUNK = 65536
_SCROLLBACK_PAGE_CAP = 10000
_ALT_MODES = frozenset(("1049", "1047", "47"))
# DEC private mode set/reset, or RIS (full reset, which leaves the alternate screen).
_MODE_RE = re.compile(r"\x1b(?:\[\?([0-9;]*)([hl])|c)")
# The start of such a sequence, cut off at the end of a feed.
_PARTIAL_RE = re.compile(r"\x1b(?:\[(?:\?[0-9;]*)?)?\Z")
_FORMATS = ("plain", "styled")


def _same_pen(a: Any, b: Any) -> bool:
    return a.pen != b.pen


def _color(c: Any) -> dict[str, Any] | None:
    if c is None:
        return None
    if isinstance(c, avt.Color.Indexed):
        return {"indexed": c._0}
    return {"rgb": {"r": c._0, "g": c._1, "b": c._2}}


def _span(text: str, pen: Any) -> dict[str, Any]:
    span: dict[str, Any] = {"text": text}
    if pen.is_default():
        return span
    fg = pen.foreground
    if fg is not None:
        span["fg"] = _color(fg)
    bg = pen.background
    if bg is not None:
        span["bg"] = _color(bg)
    for flag in SPAN_FLAGS:  # pyavt's Pen names its attributes as the wire does
        if getattr(pen, flag):
            span[flag] = True
    return span


def _styled(line: Any) -> list[dict[str, Any]]:
    if line.is_empty():
        return []
    chunks = line.chunks(_same_pen)
    spans: list[dict[str, Any]] = []
    last = len(chunks) - 1
    for i, chunk in enumerate(chunks):
        pen = chunk[0].pen
        text = "".join(cell.char for cell in chunk)
        if i == last and pen.is_default():
            text = text.rstrip(" ")
            if not text:
                break
        spans.append(_span(text, pen))
    return spans


def _plain(line: Any) -> str:
    return line.text.rstrip()


def _renderer(format: str):
    if format == "styled":
        return _styled
    if format == "plain":
        return _plain
    raise ValueError(f"format must be one of {', '.join(_FORMATS)}, not {format!r}")


class Screen:
    """A terminal screen plus history, fed with raw PTY bytes."""

    def __init__(self, cols: int = 80, rows: int = 24, scrollback: int = 10000) -> None:
        self._vt = avt.Vt(cols, rows, scrollback_limit=0)
        self._cols = cols
        self._rows = rows
        self._history: deque[Any] = deque(maxlen=max(0, scrollback))
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._alternate = False
        self._carry = ""  # an unfinished mode sequence from the end of the last feed

    def __repr__(self) -> str:
        return f"<Screen {self._cols}x{self._rows} history={len(self._history)}>"

    # -- input -------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Feed raw bytes from the PTY."""
        text = self._decoder.decode(data)
        if not text:
            return
        self._track_modes(text)
        if len(text) <= _FEED_CHUNK:
            self._history.extend(self._vt.feed_str(text)[1])
            return
        for i in range(0, len(text), _FEED_CHUNK):
            self._history.extend(self._vt.feed_str(text[i : i + _FEED_CHUNK])[1])

    def _track_modes(self, text: str) -> None:
        if self._carry:
            text = self._carry + text
            self._carry = ""
        if "\x1b" not in text:
            return
        if "\x1b[?" in text or "\x1bc" in text:
            for m in _MODE_RE.finditer(text):
                if m.group(2) is None:
                    self._alternate = False
                elif _ALT_MODES.intersection(m.group(1).split(";")):
                    self._alternate = m.group(2) == "h"
        tail = text.rfind("\x1b", max(0, len(text) - 32))
        if tail >= 0 and _PARTIAL_RE.match(text, tail):
            self._carry = text[tail:]

    def resize(self, cols: int, rows: int) -> None:
        """Resize the screen (the visible lines reflow; history lines stay as they were)."""
        self._history.extend(self._vt.resize(cols, rows)[1])
        self._cols = cols
        self._rows = rows

    # -- state -------------------------------------------------------------------------------------

    @property
    def cols(self) -> int:
        return self._cols

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def history_lines(self) -> int:
        """Lines scrolled off the top into history (at most ``scrollback``)."""
        return len(self._history)

    @property
    def total_lines(self) -> int:
        """History plus the visible rows."""
        return len(self._history) + self._rows

    @property
    def alternate_active(self) -> bool:
        return self._alternate

    def snapshot(self, format: str = "styled") -> dict[str, Any]:
        """The visible screen as WIRE.md's ``Screen`` (``lines`` has exactly ``rows`` entries)."""
        render = _renderer(format)
        lines = [render(line) for line in self._vt.view()]
        cursor = self._vt.cursor
        history = len(self._history)
        return {
            "epoch": 0,
            "first_line_index": history,
            "total_lines": history + self._rows,
            "lines": lines,
            "cursor": {"row": cursor.row, "col": cursor.col, "visible": bool(cursor.visible)},
            "cols": self._cols,
            "rows": self._rows,
            "alternate_active": self._alternate,
        }

    def scrollback(self, format: str = "styled", offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """Lines ``offset .. offset+limit`` of history followed by the screen (``limit`` capped at 10000)."""
        render = _renderer(format)
        offset = max(0, offset)
        limit = max(0, min(limit, _SCROLLBACK_PAGE_CAP))
        history = len(self._history)
        end = offset + limit
        picked: list[Any] = []
        if offset < history:
            picked.extend(islice(self._history, offset, min(end, history)))
        if end > history:
            view = self._vt.view()
            picked.extend(view[max(0, offset - history) : end - history])
        return {
            "epoch": 0,
            "lines": [render(line) for line in picked],
            "total_lines": history + self._rows,
            "offset": offset,
        }

    def text(self) -> str:
        """The visible screen as plain text, lines joined by ``\\n``."""
        return "\n".join(_plain(line) for line in self._vt.view())
