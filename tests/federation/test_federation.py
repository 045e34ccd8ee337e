"""Federation + health monitor against real (hostile and mute) HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import time

import pytest

from wsh_nb.errors import (
    BadGateway,
    HealthTimeout,
    InvalidRequest,
    ServerAlreadyRegistered,
    ServerNotFound,
    ServerUnavailable,
)
from wsh_nb.events import EventBus
from wsh_nb.federation import FederationConfig, Health, IpAccess

from .hostile import Mute, raw_reply

pytestmark = pytest.mark.anyio


async def until(pred, timeout: float, what: str) -> float:
    """Wait (event-loop friendly) until ``pred()``; returns the seconds it took, fails after ``timeout``."""
    start = time.monotonic()
    while not pred():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


async def test_new_backend_is_connecting_then_healthy_with_its_hostname(hostile, federation):
    server = await hostile("evil-1")
    server.sessions = [{"name": "a"}, {"name": "b"}]
    events = EventBus()
    seen: list[dict] = []
    events.add_callback(seen.append)
    fed = federation(events=events)
    entry = await fed.add(server.url + "/")
    assert entry.health is Health.CONNECTING and entry.address == server.url
    started = time.monotonic()
    [ready] = await fed.wait_healthy([server.url], timeout=5)
    assert time.monotonic() - started < 1.0
    assert ready is entry and entry.hostname == "evil-1" and entry.server_id == server.info["server_id"]
    assert fed.find("evil-1") is entry and fed.route("evil-1") is entry.client
    await until(lambda: entry.sessions == 2, 2, "session count")
    await until(lambda: entry.latency_ms is not None, 2, "a ping RTT")
    wire = entry.to_json()
    assert set(wire) == {
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
    assert wire["role"] == "member" and wire["health"] == "healthy" and wire["last_seen_ms"] >= 0
    healths = [e["params"]["health"] for e in seen if e["event"] == "server_health"]
    assert healths[:2] == ["connecting", "healthy"]


async def test_lifecycle_events_keep_the_session_count(hostile, federation):
    server = await hostile("evil-1")
    fed = federation()
    entry = await fed.add(server.url)
    await fed.wait_healthy([], timeout=5)
    await until(lambda: entry.sessions == 0, 2, "initial count")
    await server.broadcast({"event": "session_created", "params": {"name": "x"}})
    await until(lambda: entry.sessions == 1, 2, "count after session_created")
    await server.broadcast({"event": "session_destroyed", "params": {"name": "x"}})
    await server.broadcast({"event": "session_destroyed", "params": {"name": "ghost"}})
    await until(lambda: entry.sessions == 0, 2, "count after session_destroyed (never negative)")


async def test_hostname_with_spaces_is_rejected(hostile, federation):
    server = await hostile("x")
    server.info["hostname"] = "evil host"
    fed = federation()
    entry = await fed.add(server.url)
    await until(lambda: entry.health is Health.REJECTED, 2, "rejected")
    assert "invalid hostname" in entry.error and entry.hostname is None
    with pytest.raises(ServerUnavailable) as err:
        fed.route(server.url)
    assert "rejected" in err.value.message and "remove it" in err.value.message
    await fed.remove(server.url)
    assert fed.entries() == []


async def test_garbage_on_a_proxied_call_is_502_and_lands_on_the_entry(hostile, federation):
    server = await hostile("evil-1")
    events = EventBus()
    seen: list[dict] = []
    events.add_callback(seen.append)
    fed = federation(events=events)
    entry = await fed.add(server.url)
    await fed.wait_healthy([], timeout=5)
    server.replies[("GET", "/sessions")] = raw_reply(b"not json at all")
    with pytest.raises(BadGateway) as err:
        await fed.route("evil-1").list_sessions()
    assert entry.error == err.value.message and "evil-1" in entry.error
    assert any(e["params"].get("error") == entry.error for e in seen)


async def test_self_loop_is_rejected_for_good(hostile, federation):
    server = await hostile("me-too")
    fed = federation(own_server_id=server.info["server_id"])
    entry = await fed.add(server.url)
    await until(lambda: entry.health is Health.REJECTED, 2, "self-loop rejection")
    assert "self-loop" in entry.error
    # for good: the monitor task ends, so no reconnect attempts follow
    await until(
        lambda: (
            not any(t.get_name() == f"wsh-monitor {server.url}" and not t.done() for t in asyncio.all_tasks())
        ),
        2,
        "the monitor to stop",
    )


async def test_own_hostname_is_rejected(hostile, federation):
    server = await hostile("hub")
    fed = federation(own_hostname="hub")
    entry = await fed.add(server.url)
    await until(lambda: entry.health is Health.REJECTED, 2, "rejection")
    assert "own hostname" in entry.error


async def test_hostname_collision_rejects_the_second_and_both_are_removable(hostile, federation):
    first, second = await hostile("twin"), await hostile("twin")
    fed = federation()
    a = await fed.add(first.url)
    await fed.wait_healthy([first.url], timeout=5)
    b = await fed.add(second.url)
    await until(lambda: b.health is Health.REJECTED, 2, "collision rejection")
    assert first.url in b.error and "twin" in b.error and b.hostname is None
    assert fed.find("twin") is a
    with pytest.raises(HealthTimeout) as err:
        await fed.wait_healthy([], timeout=0.1)
    assert second.url in err.value.message and "rejected" in err.value.message
    await fed.remove("twin")
    await fed.remove(second.url)
    assert fed.entries() == []


async def test_bad_addresses_and_duplicates(hostile, federation):
    server = await hostile()
    fed = federation()
    for bad in ("ftp://x:1", "example.com:8080", "http://", "http://0.0.0.0:8080", "http://h:70000"):
        with pytest.raises(InvalidRequest):
            await fed.add(bad)
    with pytest.raises(InvalidRequest, match=r"'http://example\.com:8080'"):
        await fed.add("example.com:8080")
    await fed.add(server.url)
    with pytest.raises(ServerAlreadyRegistered):
        await fed.add(server.url.upper() + "/")
    with pytest.raises(ServerNotFound) as err:
        fed.find("nobody")
    assert server.url in err.value.message or "hostile" in err.value.message


async def test_ip_access_allowlist_127_0_0_2(hostile, federation):
    on_one = await hostile("one")
    on_two = await hostile("two", host="127.0.0.2")
    fed = federation(ip_access=IpAccess(allowlist=["127.0.0.2/32"]))
    with pytest.raises(InvalidRequest) as err:
        await fed.add(on_one.url)
    assert "127.0.0.1" in err.value.message and "allowlist" in err.value.message
    entry = await fed.add(on_two.url)
    await fed.wait_healthy([on_two.url], timeout=5)
    assert entry.hostname == "two"
    fed2 = federation(ip_access=IpAccess(blocklist=["127.0.0.2/32"], allowlist=["127.0.0.0/8"]))
    with pytest.raises(InvalidRequest, match="blocklist"):
        await fed2.add(on_two.url)


async def test_ip_access_is_rechecked_on_reconnect(hostile, federation):
    server = await hostile("b")
    fed = federation(ip_access=IpAccess(allowlist=["127.0.0.0/8"]))
    entry = await fed.add(server.url)
    await fed.wait_healthy([], timeout=5)
    fed.ip_access = IpAccess(blocklist=["127.0.0.1/32"])  # as after a DNS rebinding / policy change
    await server.close()
    await until(
        lambda: entry.health is Health.UNAVAILABLE and "blocklist" in (entry.error or ""),
        3,
        "reconnect refused by ip_access",
    )


async def test_silent_backend_goes_unavailable_on_the_pong_deadline(hostile, federation):
    server = await hostile("frozen")
    fed = federation()
    entry = await fed.add(server.url)
    await fed.wait_healthy([], timeout=5)
    server.silent = True
    took = await until(lambda: entry.health is Health.UNAVAILABLE, 3, "pong deadline")
    assert "no pong" in entry.error and took < 1.0  # FAST: ping 0.1 s, deadline 0.3 s
    server.silent = False  # answering again: the reconnect succeeds
    await fed.wait_healthy([], timeout=3)


async def test_mute_tcp_listener_never_finishes_the_handshake(federation):
    mute = Mute()
    try:
        fed = federation()
        entry = await fed.add(mute.url)
        await until(lambda: entry.health is Health.UNAVAILABLE, 3, "open timeout")
        assert "did not open within 0.5 s" in entry.error
        with pytest.raises(HealthTimeout) as err:
            await fed.wait_healthy([mute.url], timeout=0.2)
        assert mute.url in err.value.message and "unavailable" in err.value.message
    finally:
        mute.close()


async def test_killed_then_restarted_on_the_same_port(hostile, federation):
    server = await hostile("phoenix")
    fed = federation()
    entry = await fed.add(server.url)
    await fed.wait_healthy([], timeout=5)
    await server.close()
    took = await until(lambda: entry.health is Health.UNAVAILABLE, 1, "unavailable after close")
    assert took < 0.5 and entry.hostname == "phoenix"
    with pytest.raises(ServerUnavailable, match="phoenix is unavailable"):
        fed.route("phoenix")
    reborn = await hostile("phoenix", port=server.port)
    took = await until(lambda: entry.health is Health.HEALTHY, 2.5, "healthy after restart")
    assert entry.server_id == reborn.info["server_id"]


async def test_tokens_cascade_and_never_show(hostile, federation, tmp_path):
    a, b = await hostile("a"), await hostile("b")
    fed = federation(default_token="default-token-xyz")
    ea = await fed.add(a.url)
    eb = await fed.add(b.url, "own-token-abc")
    await fed.wait_healthy([], timeout=5)
    assert {r[2] for r in a.requests} == {"Bearer default-token-xyz"}
    assert {r[2] for r in b.requests} == {"Bearer own-token-abc"}
    for entry in (ea, eb):
        text = repr(entry) + repr(entry.to_json()) + repr(entry.client) + repr(fed)
        assert "token-xyz" not in text and "token-abc" not in text
    c = await hostile("c")
    fed2 = federation()  # no default token: no header at all (never the hub's own)
    await fed2.add(c.url)
    await fed2.wait_healthy([], timeout=5)
    assert {r[2] for r in c.requests} == {None}


async def test_wait_healthy_is_event_driven_and_names_unknown_handles(hostile, federation):
    server = await hostile("late")
    fed = federation()
    waiter = asyncio.ensure_future(fed.wait_healthy(["late"], timeout=5))
    await asyncio.sleep(0)
    await fed.add(server.url)
    [entry] = await waiter
    assert entry.hostname == "late"
    with pytest.raises(HealthTimeout, match="ghost is not registered"):
        await fed.wait_healthy(["ghost"], timeout=0.05)


async def test_config_backends_write_back_and_reload(hostile, federation, tmp_path):
    a, b, c = await hostile("a"), await hostile("b"), await hostile("c")
    path = tmp_path / "config.toml"
    path.write_text(
        f'# keep me\n[[servers]]\naddress = "{a.url}"\n\n[[servers]]\naddress = "nohost:1"\n'
        f'[[servers]]\naddress = "{a.url}/"\n'
    )
    cfg = FederationConfig.load(path)
    fed = federation(config=cfg)
    await fed.start()
    await fed.wait_healthy([a.url], timeout=5)
    bad = fed.find("nohost:1")
    assert bad.health is Health.REJECTED and "http://nohost:1" in bad.error
    assert any("already registered" in p for p in fed.problems)

    await fed.add(b.url, "tok-b")
    assert "# keep me" in path.read_text() and b.url in path.read_text()
    await fed.remove("a")
    assert a.url not in path.read_text() and FederationConfig.load(path).servers[-1] == (b.url, "tok-b")

    # edit by hand: b's token changes, c appears, the bad line goes away
    path.write_text(
        f'# keep me\n[[servers]]\naddress = "{b.url}"\ntoken = "tok-b2"\n[[servers]]\naddress = "{c.url}"\n'
    )
    result = await fed.reload()
    assert result == {"added": [c.url], "removed": ["nohost:1"], "updated": [b.url]}
    await fed.wait_healthy([], timeout=5)
    assert b.requests[-1][2] == "Bearer tok-b2"
    assert sorted(e.hostname for e in fed.entries()) == ["b", "c"]

    path.write_text("[[servers]\n")
    with pytest.raises(InvalidRequest, match="not valid TOML"):
        await fed.reload()
    assert len(fed.entries()) == 2


async def test_config_ip_access_refusal_becomes_a_rejected_entry(hostile, federation, tmp_path):
    a = await hostile("a")
    path = tmp_path / "config.toml"
    path.write_text(f'[[servers]]\naddress = "{a.url}"\n[ip_access]\nallowlist = ["127.0.0.2/32"]\n')
    fed = federation(config=FederationConfig.load(path))
    await fed.start()
    [entry] = fed.entries()
    assert entry.health is Health.REJECTED and "allowlist" in entry.error


async def test_reload_without_config_is_invalid_request(federation):
    with pytest.raises(InvalidRequest, match="--config"):
        await federation().reload()


async def test_aclose_leaves_nothing_running(hostile, federation):
    server = await hostile("a")
    fed = federation()
    await fed.add(server.url)
    mute = Mute()
    await fed.add(mute.url)
    await fed.wait_healthy([server.url], timeout=5)
    before = {t for t in asyncio.all_tasks() if t.get_name().startswith("wsh-monitor")}
    assert len(before) == 2
    await fed.aclose()
    mute.close()
    assert all(t.done() for t in before) and fed.entries() == []
