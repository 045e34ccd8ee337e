"""``TerminalView``: one session's screen, live, with an input line, Ctrl-C / Tab keys and scrollback pages.

The screen is sampled by the view's updater thread every ``interval`` seconds (≤ 5/s) and right after
each input; only a changed screen is sent to the front end.  Enter in the input box sends the line plus
``"\\n"`` (the Text widget's ``submit`` message, so typing alone sends nothing); the buttons send ``^C`` and
Tab verbatim.  "Older" / "Newer" page through ``session.scrollback()``; "Live" returns to the screen.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

import ipywidgets as w

from ...errors import SessionNotFound, WshError
from ..display import ScreenView, ScrollbackView
from .updater import Updater, held, missing

CTRL_C = "\x03"
TAB = "\t"


class TerminalView(w.VBox):
    """A live view of ``session`` (a ``wsh_nb`` ``Session``) with input and scrollback paging.

    Options: ``interval`` (seconds between screen samples, ≥ 0.2), ``page`` (scrollback lines per page),
    ``idle_ms``, ``sample_timeout``.  ``screen`` is the last ``ScreenView`` shown; ``send(data)`` sends input;
    ``older()`` / ``newer()`` / ``live()`` page; ``close()`` stops the updater.
    """

    def __init__(
        self,
        session: Any,
        *,
        interval: float = 0.25,
        page: int = 50,
        idle_ms: int = 1000,
        sample_timeout: float = 2.0,
        **kwargs: Any,
    ) -> None:
        self.session = session
        self.sample_timeout = sample_timeout
        self.page = max(1, int(page))
        self.idle_ms = idle_ms
        self.screen: ScreenView | None = None
        self.offset: int | None = None  # None: live; else the first scrollback line shown
        self.state = "running"
        self.header = w.HTML()
        self.view = w.HTML(layout=w.Layout(overflow="auto"))
        self.input = w.Text(placeholder="type a line; Enter sends it", layout={"width": "420px"})
        self.input.on_msg(self._on_input_msg)
        self.ctrl_c = w.Button(description="Ctrl-C", tooltip="send ^C (interrupt)", layout={"width": "80px"})
        self.tab = w.Button(description="Tab", tooltip="send Tab (completion)", layout={"width": "60px"})
        self.older_button = w.Button(description="Older", icon="arrow-up", layout={"width": "90px"})
        self.newer_button = w.Button(description="Newer", icon="arrow-down", layout={"width": "90px"})
        self.live_button = w.Button(description="Live", icon="play", layout={"width": "80px"})
        self.page_label = w.HTML()
        self.ctrl_c.on_click(lambda _: self.send(CTRL_C))
        self.tab.on_click(lambda _: self.send(TAB))
        self.older_button.on_click(lambda _: self._guard(self.older))
        self.newer_button.on_click(lambda _: self._guard(self.newer))
        self.live_button.on_click(lambda _: self.live())
        rows = [
            self.header,
            self.view,
            w.HBox([self.input, self.ctrl_c, self.tab]),
            w.HBox([self.older_button, self.newer_button, self.live_button, self.page_label]),
        ]
        super().__init__(rows, **kwargs)
        self.add_class("wsh-terminal-view")
        self._updater = Updater(
            "wsh-terminal", self.refresh, rate=1 / max(0.2, interval), interval=max(0.2, interval),
            on_error=self._show_error, hub=getattr(session, "hub", None),
        )  # fmt: skip
        self._updater.start()

    @property
    def label(self) -> str:
        return f"{self.session.server}/{self.session.name}"

    # -- input --------------------------------------------------------------------------------
    def _on_input_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("event") == "submit":
            self.submit()

    def submit(self) -> None:
        """Send the input box's line plus a newline and clear the box (what Enter does)."""
        line, self.input.value = self.input.value, ""
        self.send(line + "\n")

    def send(self, data: str | bytes) -> None:
        """Send input verbatim; errors show in the header instead of raising into the front end."""
        try:
            self.session.send(data)
        except WshError as exc:
            self._show_error(exc)
            return
        self._updater.poke()

    def _guard(self, fn: Any) -> None:
        try:
            fn()
        except WshError as exc:
            self._show_error(exc)

    # -- scrollback ---------------------------------------------------------------------------
    def _show_page(self, offset: int) -> ScrollbackView:
        page = self.session.scrollback(offset=offset, limit=self.page)
        self.offset = page.offset
        end = page.offset + len(page.lines)
        with held(self.view, self.page_label):
            self.view.value = page._repr_html_()
            self.page_label.value = (
                f'<span class="wsh-page">scrollback lines {page.offset + 1}–{end} of {page.total_lines} '
                "(Live returns to the screen)</span>"
            )
        return page

    def older(self) -> ScrollbackView:
        """Show the previous page of history (from the live screen: the newest page)."""
        if self.offset is None:
            total = self.session.scrollback(offset=0, limit=1).total_lines
            return self._show_page(max(0, total - self.page))
        return self._show_page(max(0, self.offset - self.page))

    def newer(self) -> ScrollbackView | None:
        """Show the next page of history; past the end, back to the live screen."""
        if self.offset is None:
            return None
        total = self.session.scrollback(offset=0, limit=1).total_lines
        if self.offset + self.page >= total:
            self.live()
            return None
        return self._show_page(self.offset + self.page)

    def live(self) -> None:
        """Back to the live screen."""
        self.offset = None
        self.page_label.value = ""
        self._updater.poke()

    # -- sampling (on the updater thread) -----------------------------------------------------
    async def refresh(self) -> None:
        """Fetch the screen (within ``sample_timeout``) and show it unless a scrollback page is up."""
        if self.state == "gone":
            return
        try:
            screen = await asyncio.wait_for(self.session.ascreen(), self.sample_timeout)
        except SessionNotFound:
            self.state = "gone"
            self.header.value = self._header_html("the session has ended")
            return
        except asyncio.TimeoutError:
            self.header.value = self._header_html(f"no answer from {self.session.server}; retrying")
            return
        self.screen = screen
        quiet = screen.last_activity_ms
        self.state = "idle" if not missing(quiet) and quiet >= self.idle_ms else "running"
        header = self._header_html()
        with held(self.header, self.view):
            if self.header.value != header:
                self.header.value = header
            if self.offset is None:
                value = screen._repr_html_()
                if self.view.value != value:
                    self.view.value = value

    def _header_html(self, note: str = "") -> str:
        from .grid import state_html

        extra = f" · {html.escape(note)}" if note else ""
        return (
            f'<div class="wsh-terminal-head" style="font-size:12px"><b>{html.escape(self.label)}</b> '
            f"{state_html(self.state)}{extra}</div>"
        )

    def _show_error(self, exc: BaseException) -> None:
        self.header.value = self._header_html(str(exc))

    # -- lifecycle and fallbacks --------------------------------------------------------------
    def close(self) -> None:
        """Stop the updater and close the widgets (the session keeps running)."""
        self._updater.close()
        for child in (self.header, self.view, self.input, self.ctrl_c, self.tab, self.older_button,
                      self.newer_button, self.live_button, self.page_label, *self.children):  # fmt: skip
            child.close()
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = (super()._repr_mimebundle_(**kwargs) or {}) if self.comm is not None else {}
        screen = self.screen
        data["text/plain"] = f"── {self.label} [{self.state}]\n" + (
            repr(screen) if screen is not None else ""
        )
        data["text/html"] = self._header_html() + (screen._repr_html_() if screen is not None else "")
        return data

    def __repr__(self) -> str:
        return f"<TerminalView {self.label}>"
