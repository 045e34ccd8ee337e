"""A hub registered as another hub's backend: each session is listed once, under the server it lives on."""

from __future__ import annotations

import httpx

from .conftest import join


def test_a_middle_hub_contributes_only_its_own_sessions(hub, spawn_server):
    middle, leaf = spawn_server("middle"), spawn_server("leaf")
    with httpx.Client(base_url=middle.url, timeout=30) as m:
        join(m, leaf)
        m.post("/sessions", json={"name": "on-middle", "command": "cat", "tags": ["t"]})
        m.post("/sessions", json={"name": "on-leaf", "server": "leaf", "command": "cat", "tags": ["t"]})
    join(hub, middle)  # the top hub knows only the middle one
    listed = {(s["server"], s["name"]) for s in hub.get("/sessions").json()}
    assert listed == {("middle", "on-middle")}
    r = hub.get("/idle", params={"tag": "t", "timeout_ms": 100, "max_wait_ms": 5000})
    assert (r.json()["server"], r.json()["session"]) == ("middle", "on-middle")
    assert hub.get("/sessions/on-middle", params={"server": "middle"}).status_code == 200


def test_server_level_idle_can_be_limited_to_one_server(hub, spawn_server):
    other = spawn_server("other")
    join(hub, other)
    hub.post("/sessions", json={"name": "here", "command": "cat"})
    hub.post("/sessions", json={"name": "there", "server": "other", "command": "cat"})
    for server, name in (("other", "there"), ("hub", "here")):
        r = hub.get("/idle", params={"server": server, "timeout_ms": 100, "max_wait_ms": 5000})
        assert (r.json()["server"], r.json()["session"]) == (server, name)
    assert hub.get("/idle", params={"server": "nope", "timeout_ms": 10}).status_code == 404
