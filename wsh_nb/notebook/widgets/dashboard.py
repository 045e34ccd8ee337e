"""``ClusterDashboard``: every server of the hub with a coloured health badge, live, plus add/remove/wait.

The table is one ``HTML`` widget rebuilt from ``hub.servers()`` by the dashboard's updater thread: at once
on every ``server_health`` / ``server_removed`` / session event from the hub (pushed, no front-end
polling), and every ``interval`` seconds for the sampled columns (latency, last seen) — never more than
5 times a second.  The same rendering serves ``_repr_mimebundle_``'s ``text/html`` and ``text/plain``, so a
notebook viewed without a kernel shows a readable table.

The token field is a ``Password`` widget; its value is handed to ``hub.add_server`` and the field is
cleared at once, so it is neither echoed nor left in saved widget state.
"""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as w

from ...errors import HealthTimeout, WshError
from .updater import Actions, Updater, held, missing, subscribe

HEALTH_COLOURS = {
    "healthy": "#2e7d32",  # green
    "connecting": "#f9a825",  # amber
    "unavailable": "#c62828",  # red
    "rejected": "#6a1b9a",  # purple
}
COLUMNS = ("hostname", "health", "address", "sessions", "latency", "last seen", "error")

_TABLE_STYLE = "border-collapse:collapse;font-family:var(--jp-ui-font-family,sans-serif);font-size:13px"
_CELL_STYLE = "padding:2px 10px;text-align:left;border-bottom:1px solid #ddd"


def _fmt(value: Any, unit: str = "") -> str:
    if missing(value):
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}{unit}"
    return f"{value}{unit}"


def _last_seen(ms: Any) -> str:
    if missing(ms):
        return "—"
    seconds = float(ms) / 1000
    return f"{seconds:.1f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def _cells(entry: dict[str, Any]) -> list[str]:
    """One row as plain strings, in ``COLUMNS`` order."""
    sessions = entry.get("sessions")
    return [
        str(entry.get("hostname") or "?"),
        str(entry.get("health") or "?"),
        str(entry.get("address") or ""),
        "—" if missing(sessions) else str(int(sessions)),
        _fmt(entry.get("latency_ms"), " ms"),
        _last_seen(entry.get("last_seen_ms")),
        "" if missing(entry.get("error")) else str(entry.get("error")),
    ]


def badge_html(health: str) -> str:
    colour = HEALTH_COLOURS.get(health, "#616161")
    return (
        f'<span class="wsh-badge wsh-health-{html.escape(health)}" style="background-color:{colour};'
        'color:#fff;border-radius:8px;padding:1px 8px;font-size:12px;font-weight:bold">'
        f"{html.escape(health)}</span>"
    )


def servers_html(entries: list[dict[str, Any]]) -> str:
    """The dashboard table as escaped HTML (badges coloured by health)."""
    head = "".join(f'<th style="{_CELL_STYLE};white-space:nowrap">{c}</th>' for c in COLUMNS)
    rows = []
    for entry in entries:
        cells = _cells(entry)
        tds = [html.escape(c) for c in cells]
        tds[1] = badge_html(cells[1])
        host = html.escape(cells[0], quote=True)
        rows.append(
            f'<tr class="wsh-server" data-hostname="{host}">'
            + "".join(f'<td style="{_CELL_STYLE}">{c}</td>' for c in tds)
            + "</tr>"
        )
    body = "".join(rows) or f'<tr><td colspan="{len(COLUMNS)}" style="{_CELL_STYLE}">no servers</td></tr>'
    return f'<table class="wsh-dashboard" style="{_TABLE_STYLE}"><tr>{head}</tr>{body}</table>'


def servers_text(entries: list[dict[str, Any]]) -> str:
    """The dashboard table as aligned plain text."""
    rows = [list(COLUMNS)] + [_cells(e) for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(n) for c, n in zip(r, widths, strict=True)).rstrip() for r in rows)


class ClusterDashboard(w.VBox):
    """A live table of the hub's servers with add / remove / wait-for-healthy controls.

    ``ClusterDashboard(hub)`` (``%wsh dashboard`` shows one for the kernel's hub).  ``entries`` is the
    latest list of server dicts shown; ``health(hostname)`` one server's badge; ``close()`` stops the
    updater and closes the widgets.
    """

    def __init__(self, hub: Any, *, interval: float = 1.0, rate: float = 5.0, **kwargs: Any) -> None:
        self.hub = hub
        self.entries: list[dict[str, Any]] = []
        self.table = w.HTML(layout=w.Layout(overflow="auto"))
        self.status = w.HTML()
        self.address = w.Text(
            placeholder="http://host:port", description="address", layout={"width": "280px"}
        )
        self.token = w.Password(
            placeholder="token (optional)", description="token", layout={"width": "240px"}
        )
        self.add_button = w.Button(description="Add", icon="plus", tooltip="add a server")
        self.target = w.Dropdown(description="server", options=[], layout={"width": "260px"})
        self.remove_button = w.Button(description="Remove", icon="trash", tooltip="remove the chosen server")
        self.wait_button = w.Button(
            description="Wait healthy",
            icon="heartbeat",
            tooltip="wait until the chosen server (all: none) is healthy",
        )
        self.wait_timeout = 10.0
        self.add_button.on_click(lambda _: self._actions.run(self._add))
        self.remove_button.on_click(lambda _: self._actions.run(self._remove))
        self.wait_button.on_click(lambda _: self._actions.run(self._wait))
        controls = [
            w.HBox([self.address, self.token, self.add_button]),
            w.HBox([self.target, self.remove_button, self.wait_button]),
        ]
        super().__init__([self.table, *controls, self.status], **kwargs)
        self.add_class("wsh-cluster-dashboard")
        self._actions = Actions("wsh-dashboard")
        self._updater = Updater(
            "wsh-dashboard", self.refresh, rate=rate, interval=interval, on_error=self._show_error, hub=hub
        )
        self._unsubscribe = subscribe(hub, self._on_event)
        self._updater.start()

    # -- live state -----------------------------------------------------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:  # on the hub loop: never block
        self._updater.poke()

    def refresh(self) -> None:
        """Re-read ``hub.servers()`` and update the table (the updater calls this; so may you)."""
        frame = self.hub.servers()
        entries = [
            {k: (None if missing(v) else v) for k, v in row.items()} for row in frame.to_dict("records")
        ]
        table = servers_html(entries)
        names = [e["hostname"] or e["address"] for e in entries if e.get("address") != "local"]
        with held(self.table, self.target):
            self.entries = entries
            if self.table.value != table:
                self.table.value = table
            if list(self.target.options) != names:
                keep = self.target.value if self.target.value in names else None
                self.target.options = names
                self.target.value = keep

    def health(self, hostname: str) -> str | None:
        for entry in self.entries:
            if hostname in (entry.get("hostname"), entry.get("address")):
                return entry.get("health")
        return None

    def _say(self, message: str, *, error: bool = False) -> None:
        colour = "#c62828" if error else "inherit"
        self.status.value = f'<span class="wsh-status" style="color:{colour}">{html.escape(message)}</span>'

    def _show_error(self, exc: BaseException) -> None:
        self._say(f"refresh failed: {exc}", error=True)

    # -- actions (on Actions threads) ---------------------------------------------------------
    def _add(self) -> None:
        address, token = self.address.value.strip(), self.token.value or None
        self.token.value = ""  # never kept in widget state
        if not address:
            self._say("type an address first, e.g. http://127.0.0.1:8081", error=True)
            return
        try:
            entry = self.hub.add_server(address, token=token)
        except WshError as exc:
            self._say(f"add {address}: {exc}", error=True)
            return
        self.address.value = ""
        self._say(f"added {entry.get('address', address)}: {entry.get('health', 'connecting')}")
        self._updater.poke()

    def _remove(self) -> None:
        handle = self.target.value
        if not handle:
            self._say("choose a server to remove", error=True)
            return
        try:
            self.hub.remove_server(handle)
        except WshError as exc:
            self._say(f"remove {handle}: {exc}", error=True)
            return
        self._say(f"removed {handle} (its sessions keep running)")
        self._updater.poke()

    def _wait(self) -> None:
        handles = [self.target.value] if self.target.value else []
        label = ", ".join(handles) or "all servers"
        self._say(f"waiting for {label} to be healthy…")
        deadline = time.monotonic() + self.wait_timeout
        while not self._actions.stop.is_set():  # short slices, so close() is never held up
            try:
                self.hub.wait_healthy(*handles, timeout=min(0.5, max(0.05, deadline - time.monotonic())))
            except HealthTimeout as exc:
                if time.monotonic() >= deadline:
                    self._say(str(exc), error=True)
                    return
                continue
            except (WshError, RuntimeError) as exc:
                self._say(f"wait: {exc}", error=True)
                return
            self._say(f"{label}: healthy")
            return

    # -- lifecycle and fallbacks --------------------------------------------------------------
    def close(self) -> None:
        """Stop the updater and action threads, unsubscribe from the hub, close the widgets."""
        self._updater.close()
        self._actions.close()
        self._unsubscribe()
        for child in (self.table, self.status, self.address, self.token, self.add_button, self.target,
                      self.remove_button, self.wait_button, *self.children):  # fmt: skip
            child.close()
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        entries = self.entries
        data = (super()._repr_mimebundle_(**kwargs) or {}) if self.comm is not None else {}
        data["text/plain"] = servers_text(entries)
        data["text/html"] = servers_html(entries)
        return data

    def __repr__(self) -> str:
        return f"<ClusterDashboard {len(self.entries)} servers>"
