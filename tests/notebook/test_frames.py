"""DataFrames: exact columns in wire order, empty listings keep them, tags as lists, partial, no extras."""

from __future__ import annotations

from wsh_nb.notebook.frames import SERVER_COLUMNS, SESSION_COLUMNS, servers_frame, sessions_frame

SESSION = {
    "server": "build-1",
    "name": "b",
    "pid": 7,
    "command": "sh",
    "rows": 24,
    "cols": 80,
    "clients": 0,
    "tags": ["ci", "x"],
    "last_activity_ms": 3,
}


def test_server_columns_exact():
    assert list(SERVER_COLUMNS) == [
        "hostname",
        "address",
        "health",
        "role",
        "server_id",
        "sessions",
        "latency_ms",
        "last_seen_ms",
        "error",
    ]
    frame = servers_frame([{"hostname": "h", "address": "local", "health": "healthy", "token": "SECRET"}])
    assert list(frame.columns) == list(SERVER_COLUMNS)
    assert "SECRET" not in frame.to_string()


def test_session_columns_tags_and_partial():
    assert list(SESSION_COLUMNS) == [
        "server",
        "name",
        "pid",
        "command",
        "rows",
        "cols",
        "clients",
        "tags",
        "last_activity_ms",
    ]
    frame = sessions_frame([SESSION, {**SESSION, "name": "c", "tags": []}], ["test-1"])
    assert list(frame.columns) == list(SESSION_COLUMNS)
    assert frame["tags"].tolist() == [["ci", "x"], []]
    assert isinstance(frame["tags"].iloc[0], list)
    assert frame.attrs["partial"] == ["test-1"]


def test_empty_listings_keep_columns():
    assert list(sessions_frame([]).columns) == list(SESSION_COLUMNS)
    assert sessions_frame([]).attrs["partial"] == []
    assert list(servers_frame([]).columns) == list(SERVER_COLUMNS)
