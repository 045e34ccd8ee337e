"""WIRE.md §4 server registry through a real hub: listing, adding, removing, identity rules."""

from __future__ import annotations

import time
from urllib.parse import quote

import httpx
import pytest

from tests.helpers import wait_for

from .conftest import health_of, join, server_entry

ENTRY_FIELDS = {
    "hostname",
    "address",
    "health",
    "role",
    "server_id",
    "sessions",
    "latency_ms",
    "last_seen_ms",
    "error",
}


def test_servers_lists_self_first(hub, hub_server):
    servers = hub.get("/servers").json()
    me = servers[0]
    assert me["hostname"] == "hub" and me["address"] == "local" and me["health"] == "healthy"
    assert me["role"] == "member" and me["sessions"] == 0
    assert me["server_id"] == hub.get("/server/info").json()["server_id"]
    assert hub.get("/servers/hub").json()["address"] == "local"


def test_added_backend_is_connecting_then_healthy_with_its_hostname_within_a_second(hub, spawn_server):
    backend = spawn_server("build-1")
    start = time.monotonic()
    r = hub.post("/servers", json={"address": backend.url + "/"})
    assert r.status_code == 201
    assert r.json() == {"address": backend.url, "health": "connecting"}
    wait_for(
        lambda: any(
            s["hostname"] == "build-1" and s["health"] == "healthy" for s in hub.get("/servers").json()
        ),
        timeout=1.0,
        message="healthy within 1 s",
    )
    assert time.monotonic() - start < 1.0
    entry = server_entry(hub, "build-1")
    assert set(entry) == ENTRY_FIELDS
    assert entry["address"] == backend.url and entry["role"] == "member"
    assert entry["server_id"] == httpx.get(f"{backend.url}/server/info").json()["server_id"]


@pytest.mark.parametrize(
    "address, hint",
    [
        ("ftp://127.0.0.1:8080", "http://"),
        ("example.com:8080", "http://example.com:8080"),
        ("http://", "host"),
        ("http://0.0.0.0:8080", "0.0.0.0"),
        ("http://127.0.0.1:99999", "port"),
        ("http://127.0.0.1:port", "port"),
    ],
)
def test_bad_addresses_are_400_with_a_hint(hub, address, hint):
    r = hub.post("/servers", json={"address": address})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid_request" and hint in err["message"]


def test_missing_address_is_400(hub):
    assert hub.post("/servers", json={}).json()["error"]["code"] == "invalid_request"


def test_duplicates_are_409_after_normalising(hub, spawn_server):
    backend = spawn_server("dup")
    assert hub.post("/servers", json={"address": backend.url}).status_code == 201
    shouty = backend.url.replace("http://", "HTTP://") + "/"
    r = hub.post("/servers", json={"address": shouty})
    assert r.status_code == 409 and r.json()["error"]["code"] == "server_already_registered"


def test_registering_the_hub_itself_is_rejected(hub, hub_server):
    hub.post("/servers", json={"address": hub_server.url})
    wait_for(lambda: health_of(hub, quote(hub_server.url, safe="")) == "rejected", message="self-loop")
    entry = server_entry(hub, quote(hub_server.url, safe=""))
    assert entry["error"] and ("itself" in entry["error"] or "self" in entry["error"])


def test_hostname_collision_rejects_the_second_and_both_are_removable(hub, spawn_server):
    first, second = spawn_server("twin"), spawn_server("twin")
    join(hub, first)
    hub.post("/servers", json={"address": second.url})
    handle = quote(second.url, safe="")
    wait_for(lambda: health_of(hub, handle) == "rejected", message="collision rejected")
    entry = server_entry(hub, handle)
    assert "twin" in entry["error"] and first.url in entry["error"]
    assert hub.delete(f"/servers/{handle}").status_code == 204
    assert hub.delete("/servers/twin").status_code == 204
    assert [s["address"] for s in hub.get("/servers").json()] == ["local"]


def test_unknown_server_is_404(hub):
    assert hub.get("/servers/nope").json()["error"]["code"] == "server_not_found"
    assert hub.delete("/servers/nope").status_code == 404
    r = hub.get("/sessions", params={"server": "nope"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "server_not_found"


def test_removing_a_backend_leaves_its_sessions_running(hub, spawn_server):
    backend = spawn_server("keeper")
    join(hub, backend)
    hub.post("/sessions", json={"name": "stay", "server": "keeper", "command": "cat"})
    assert hub.delete("/servers/keeper").status_code == 204
    assert hub.get("/sessions", params={"server": "keeper"}).status_code == 404
    direct = httpx.get(f"{backend.url}/sessions").json()
    assert [s["name"] for s in direct] == ["stay"]


def test_token_is_never_shown(hub, spawn_server):
    secret = "backend-secret-0123456789"
    backend = spawn_server("locked", token=secret)
    hub.post("/servers", json={"address": backend.url, "token": secret})
    wait_for(lambda: health_of(hub, "locked") == "healthy", message="authenticated backend healthy")
    for path in ("/servers", "/servers/locked"):
        assert secret not in hub.get(path).text
    hub.post("/sessions", json={"name": "s", "server": "locked", "command": "cat"})
    assert hub.get("/sessions/s", params={"server": "locked"}).status_code == 200


def test_hub_never_sends_its_own_token_to_backends(spawn_server):
    shared = "one-token-for-everything-0123"
    hub_proc = spawn_server("hub2", token=shared)
    backend = spawn_server("same-token", token=shared)
    with httpx.Client(base_url=hub_proc.url, headers={"Authorization": f"Bearer {shared}"}) as c:
        c.post("/servers", json={"address": backend.url})  # no per-server token, no default_token
        handle = quote(backend.url, safe="")
        wait_for(lambda: c.get(f"/servers/{handle}").json()["error"], message="auth failure reported")
        entry = c.get(f"/servers/{handle}").json()
        assert entry["health"] != "healthy"
        assert shared not in str(entry)
