"""``SessionGrid``: every matching session of the cluster as a live mini-screen, labelled ``server/session``.

Screens are *sampled*, not streamed: the grid's updater thread lists the sessions (at most once a second,
or at once on a session event) and fetches each visible screen through the facade every ``interval``
seconds (never more than 5 times a second), so a session spewing ``yes`` costs one screen request per tick
like any other — the kernel and the browser see at most one small message per changed card per tick.
All screens of a tick are fetched concurrently (the facade's async twins, on the updater's own loop), each
within ``sample_timeout``, so a frozen server stalls only its own cards.  Cards for new sessions appear,
cards for killed ones disappear; sessions on a server that left the listing (``attrs["partial"]``) keep
their last screen, marked ``unavailable``.  Mini-screens are the facade's
``ScreenView`` HTML (escaped, colours kept) at a smaller font size.
"""

from __future__ import annotations

import asyncio
import html
import time
from typing import Any

import ipywidgets as w

from ...errors import ServerUnavailable, SessionNotFound, WshError
from ..display import ScreenView
from .updater import Updater, held, missing, subscribe

STATE_COLOURS = {"running": "#1565c0", "idle": "#616161", "unavailable": "#c62828", "gone": "#9e9e9e"}
_CARD_STYLE = (
    "border:1px solid #bbb;border-radius:4px;padding:4px;background:#fafafa;overflow:hidden;"
    "font-family:var(--jp-ui-font-family,sans-serif)"
)


def state_html(state: str) -> str:
    colour = STATE_COLOURS.get(state, "#616161")
    return (
        f'<span class="wsh-state wsh-state-{html.escape(state)}" style="color:#fff;background-color:{colour};'
        f'border-radius:6px;padding:0 6px;font-size:11px">{html.escape(state)}</span>'
    )


def card_html(label: str, state: str, screen: ScreenView | None, *, font_size: str = "10px") -> str:
    """One mini-screen card (every piece of text escaped)."""
    body = screen._repr_html_() if screen is not None else '<pre class="wsh-screen">…</pre>'
    return (
        f'<div class="wsh-card" data-session="{html.escape(label, quote=True)}" style="{_CARD_STYLE}">'
        f'<div class="wsh-card-head" style="font-size:12px;margin-bottom:2px"><b>{html.escape(label)}</b> '
        f"{state_html(state)}</div>"
        f'<div class="wsh-card-body" style="font-size:{font_size};overflow:auto">{body}</div></div>'
    )


class _Card:
    def __init__(self, server: str, name: str) -> None:
        self.server = server
        self.name = name
        self.widget = w.HTML()
        self.state = "idle"
        self.screen: ScreenView | None = None

    @property
    def label(self) -> str:
        return f"{self.server}/{self.name}"

    def html(self) -> str:
        return card_html(self.label, self.state, self.screen)


class SessionGrid(w.VBox):
    """Live mini-screens of the sessions matching ``tag`` / ``server`` across the hub's cluster.

    Options: ``interval`` (seconds between screen samples, ≥ 0.2), ``idle_ms`` (quiet this long → "idle"),
    ``max_sessions`` (cards shown; the rest are counted), ``card_width`` (CSS), ``list_interval``,
    ``sample_timeout`` (a screen not fetched by then keeps its last sample, marked unavailable),
    ``listing_timeout``.
    ``cards`` maps ``"server/session"`` to its current card HTML; ``close()`` stops sampling.
    """

    def __init__(
        self,
        hub: Any,
        tag: str | list[str] | None = None,
        server: str | None = None,
        *,
        interval: float = 0.5,
        idle_ms: int = 1000,
        max_sessions: int = 24,
        card_width: str = "420px",
        list_interval: float = 1.0,
        sample_timeout: float = 1.0,
        listing_timeout: float = 4.0,
        **kwargs: Any,
    ) -> None:
        self.hub = hub
        self.tag = tag
        self.server = server
        self.idle_ms = idle_ms
        self.max_sessions = max_sessions
        self.list_interval = list_interval
        self.sample_timeout = sample_timeout
        self.listing_timeout = listing_timeout
        self._cards: dict[tuple[str, str], _Card] = {}
        self._listed_at = -1e9
        self._relist = True
        self._partial: list[str] = []
        self.header = w.HTML()
        self.grid = w.GridBox(
            layout=w.Layout(
                grid_template_columns=f"repeat(auto-fill, minmax({card_width}, 1fr))", grid_gap="6px"
            )
        )
        super().__init__([self.header, self.grid], **kwargs)
        self.add_class("wsh-session-grid")
        self._updater = Updater(
            "wsh-grid", self.refresh, rate=1 / max(0.2, interval), interval=max(0.2, interval),
            on_error=self._show_error, hub=hub,
        )  # fmt: skip
        self._unsubscribe = subscribe(hub, self._on_event)
        self._updater.start()

    def _on_event(self, event: dict[str, Any]) -> None:  # on the hub loop: never block
        if str(event.get("event", "")).startswith(("session_", "server_")):
            self._relist = True
            self._updater.poke()

    @property
    def cards(self) -> dict[str, str]:
        return {card.label: card.html() for card in self._cards.values()}

    # -- sampling (on the updater thread) -----------------------------------------------------
    async def _list(self) -> list[str]:
        frame = await asyncio.wait_for(
            self.hub.asessions(tag=self.tag, server=self.server), self.listing_timeout
        )
        partial = list(frame.attrs.get("partial") or [])
        rows = frame[["server", "name", "last_activity_ms"]].to_dict("records")
        rows.sort(key=lambda r: (str(r["server"]), str(r["name"])))
        keep: dict[tuple[str, str], _Card] = {}
        for row in rows[: self.max_sessions]:
            key = (str(row["server"]), str(row["name"]))
            card = self._cards.get(key) or _Card(*key)
            keep[key] = card
        for key, card in self._cards.items():
            if key not in keep and key[0] in partial:  # its server is down: keep the last screen
                card.state = "unavailable"
                keep[key] = card
        for key, card in self._cards.items():
            if key not in keep:
                card.widget.close()
        changed = list(keep) != list(self._cards)
        self._cards = keep
        if changed:
            self.grid.children = [card.widget for card in keep.values()]
        hidden = max(0, len(rows) - self.max_sessions)
        notes = []
        if hidden:
            notes.append(f"{hidden} more not shown (max_sessions={self.max_sessions})")
        if partial:
            notes.append("unavailable: " + ", ".join(partial))
        what = f"{len(rows)} session{'s' if len(rows) != 1 else ''}"
        if self.tag:
            what += f" tagged {self.tag}"
        if self.server:
            what += f" on {self.server}"
        self.header.value = (
            f'<div class="wsh-grid-head" style="font-size:12px">{html.escape(what)}'
            + "".join(f" · {html.escape(n)}" for n in notes)
            + "</div>"
        )
        return partial

    async def _sample(self, card: _Card) -> None:
        if card.state == "unavailable" and card.server in self._partial:
            return  # its server is out of the listing: keep the last screen
        try:
            screen = await asyncio.wait_for(
                self.hub.ascreen(card.name, server=card.server), self.sample_timeout
            )
        except SessionNotFound:
            card.state = "gone"
            self._relist = True
            return
        except (ServerUnavailable, asyncio.TimeoutError):  # down, or too slow to answer: keep the last screen
            card.state = "unavailable"
            self._relist = True
            return
        except WshError as exc:
            card.state = "unavailable"
            self.header.value = f'<span class="wsh-status">{html.escape(str(exc))}</span>'
            return
        card.screen = screen
        quiet = screen.last_activity_ms
        card.state = "idle" if not missing(quiet) and quiet >= self.idle_ms else "running"

    async def refresh(self) -> None:
        """List (when due), then sample every card concurrently, each within ``sample_timeout``; only
        changed cards are sent to the front end."""
        with held(self.header, self.grid):
            now = time.monotonic()
            if self._relist or now - self._listed_at >= self.list_interval:
                self._relist = False
                self._listed_at = now
                self._partial = await self._list()
            cards = list(self._cards.values())
            await asyncio.gather(*(self._sample(card) for card in cards))
            for card in cards:
                value = card.html()
                if card.widget.value != value:
                    card.widget.value = value

    def _show_error(self, exc: BaseException) -> None:
        self.header.value = (
            f'<span class="wsh-status" style="color:#c62828">refresh failed: {html.escape(str(exc))}</span>'
        )

    # -- lifecycle and fallbacks --------------------------------------------------------------
    def close(self) -> None:
        """Stop sampling, unsubscribe from the hub, close the widgets."""
        self._updater.close()
        self._unsubscribe()
        for card in self._cards.values():
            card.widget.close()
        self.header.close()
        self.grid.close()
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        cards = list(self._cards.values())
        data = (super()._repr_mimebundle_(**kwargs) or {}) if self.comm is not None else {}
        text = []
        for card in cards:
            text.append(f"── {card.label} [{card.state}]")
            if card.screen is not None:
                text.append(repr(card.screen))
        data["text/plain"] = "\n".join(text) or "no sessions"
        data["text/html"] = (
            '<div class="wsh-session-grid" style="display:flex;flex-wrap:wrap;gap:6px">'
            + "".join(card.html() for card in cards)
            + "</div>"
        ) if cards else "<i>no sessions</i>"  # fmt: skip
        return data

    def __repr__(self) -> str:
        return f"<SessionGrid {len(self._cards)} sessions>"
