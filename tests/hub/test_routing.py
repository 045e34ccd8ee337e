"""Routing, pass-through, aggregation and the cluster-wide idle race through a real hub."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import wait_for

from .conftest import health_of, join


@pytest.fixture
def two(hub, spawn_server):
    a, b = spawn_server("node-a"), spawn_server("node-b")
    join(hub, a, b)
    return a, b


def plain_lines(r: httpx.Response) -> list[str]:
    return r.json()["lines"]


def test_omitted_server_means_local_and_own_hostname_too(hub, two):
    hub.post("/sessions", json={"name": "here", "command": "cat"})
    assert hub.get("/sessions/here").json()["server"] == "hub"
    assert hub.get("/sessions/here", params={"server": "hub"}).json()["server"] == "hub"
    assert hub.get("/sessions/here", params={"server": "node-a"}).status_code == 404


def test_proxied_operations_pass_status_and_json_through(hub, two):
    a, _ = two
    r = hub.post("/sessions", json={"name": "p", "server": "node-a", "command": "cat", "tags": ["x"]})
    assert r.status_code == 201 and r.json()["server"] == "node-a"
    assert httpx.get(f"{a.url}/sessions/p").status_code == 200  # really on the backend
    q = {"server": "node-a"}
    assert hub.get("/sessions/p", params=q).json()["tags"] == ["x"]
    assert hub.patch("/sessions/p", params=q, json={"add_tags": ["y"]}).json()["tags"] == ["x", "y"]
    assert hub.post("/sessions/p/input", params=q, content=b"proxied\n").status_code == 204
    wait_for(lambda: "proxied" in hub.get("/sessions/p/screen", params={**q, "format": "plain"}).text)
    idle = hub.get("/sessions/p/idle", params={**q, "timeout_ms": 100, "format": "plain"}).json()
    assert any("proxied" in line for line in idle["screen"]["lines"])
    sb = hub.get("/sessions/p/scrollback", params={**q, "format": "plain", "limit": 1}).json()
    assert sb["lines"] == ["proxied"]
    assert hub.post("/sessions/p/detach", params=q, json={}).status_code == 204
    assert hub.delete("/sessions/p", params=q).status_code == 204
    r = hub.delete("/sessions/p", params=q)
    assert r.status_code == 404 and r.json()["error"]["code"] == "session_not_found"
    r = hub.post("/sessions", json={"name": "bad name", "server": "node-a"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_session_name"
    r = hub.get("/sessions/p/idle", params={**q})
    assert r.status_code == 400


def test_create_takes_server_from_the_query_too(hub, two):
    r = hub.post("/sessions", params={"server": "node-b"}, json={"name": "qq", "command": "cat"})
    assert r.status_code == 201 and r.json()["server"] == "node-b"


def test_aggregated_listing_spans_servers_and_filters_by_tag(hub, two):
    hub.post("/sessions", json={"name": "l", "command": "cat", "tags": ["ci"]})
    hub.post("/sessions", json={"name": "ra", "server": "node-a", "command": "cat", "tags": ["ci"]})
    hub.post("/sessions", json={"name": "rb", "server": "node-b", "command": "cat", "tags": ["other"]})
    r = hub.get("/sessions")
    assert "x-wsh-partial" not in r.headers
    assert {(s["server"], s["name"]) for s in r.json()} == {("hub", "l"), ("node-a", "ra"), ("node-b", "rb")}
    tagged = {(s["server"], s["name"]) for s in hub.get("/sessions", params={"tag": "ci"}).json()}
    assert tagged == {("hub", "l"), ("node-a", "ra")}
    only_b = hub.get("/sessions", params={"server": "node-b"}).json()
    assert [s["name"] for s in only_b] == ["rb"]


def test_unhealthy_backend_sessions_vanish_and_come_back(hub, two):
    a, _ = two
    hub.post("/sessions", json={"name": "gone", "server": "node-a", "command": "cat"})
    a.freeze()
    try:
        wait_for(
            lambda: health_of(hub, "node-a") == "unavailable", timeout=3.5, message="frozen → unavailable"
        )
        r = hub.get("/sessions")
        assert r.headers["x-wsh-partial"] == "node-a"
        assert "gone" not in {s["name"] for s in r.json()}
        r = hub.get("/sessions/gone", params={"server": "node-a"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "server_unavailable"
    finally:
        a.thaw()
    wait_for(lambda: health_of(hub, "node-a") == "healthy", timeout=3.5, message="thawed → healthy")
    assert "gone" in {s["name"] for s in hub.get("/sessions").json()}


def test_killed_and_restarted_backend(hub, two):
    a, _ = two
    a.kill()
    wait_for(lambda: health_of(hub, "node-a") == "unavailable", timeout=0.5, message="killed → unavailable")
    a.start()
    wait_for(lambda: health_of(hub, "node-a") == "healthy", timeout=2.5, message="restarted → healthy")


def test_cluster_idle_race_over_local_and_remote(hub, two):
    hub.post(
        "/sessions",
        json={"name": "busy", "command": "while :; do echo b; sleep 0.02; done", "tags": ["race"]},
    )
    hub.post(
        "/sessions",
        json={"name": "calm", "server": "node-b", "command": "echo c; exec cat", "tags": ["race"]},
    )
    first = hub.get("/idle", params={"tag": "race", "timeout_ms": 200, "max_wait_ms": 5000})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["session"], body["server"]) == ("calm", "node-b")
    again = hub.get(
        "/idle",
        params={
            "tag": "race",
            "timeout_ms": 200,
            "max_wait_ms": 600,
            "last_session": "calm",
            "last_server": "node-b",
            "last_generation": body["generation"],
        },
    )
    assert again.status_code == 408
    assert (
        hub.get("/idle", params={"tag": "nothing", "timeout_ms": 10}).json()["error"]["code"] == "no_sessions"
    )
