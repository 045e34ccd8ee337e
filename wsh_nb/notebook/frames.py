"""Listings as pandas DataFrames — the only module of wsh_nb that imports pandas.

Columns are fixed, in wire order, whatever the listing holds (an empty listing keeps them), and only
those columns are copied out of the wire dicts, so nothing else a backend sends (never a token) can
reach a frame.  ``tags`` stay Python lists.  A sessions frame carries ``.attrs["partial"]``: the
registered servers left out of the listing (unhealthy, or failed during the call).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

SERVER_COLUMNS = (
    "hostname", "address", "health", "role", "server_id", "sessions", "latency_ms", "last_seen_ms", "error",
)  # fmt: skip
SESSION_COLUMNS = (
    "server", "name", "pid", "command", "rows", "cols", "clients", "tags", "last_activity_ms",
)  # fmt: skip


def _columns(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    # column-wise construction: one list per column is several times faster than records for ~1000 rows
    return {c: [row.get(c) for row in rows] for c in columns}


def servers_frame(entries: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """``hub.servers()``: self entry first, then every backend."""
    return pd.DataFrame(_columns(list(entries), SERVER_COLUMNS), columns=list(SERVER_COLUMNS))


def sessions_frame(sessions: Iterable[dict[str, Any]], partial: Iterable[str] = ()) -> pd.DataFrame:
    """``hub.sessions()``: one row per session; ``.attrs["partial"]`` names the servers left out."""
    rows = list(sessions)
    data = _columns(rows, SESSION_COLUMNS)
    data["tags"] = [list(tags or ()) for tags in data["tags"]]
    frame = pd.DataFrame(data, columns=list(SESSION_COLUMNS))
    frame.attrs["partial"] = list(partial)
    return frame
