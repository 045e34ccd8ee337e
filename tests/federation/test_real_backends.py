"""Health monitor and client against real ``wsh-nb serve`` processes; faults are real signals.

Timing targets (WIRE.md §4, default HealthSettings): new backend healthy with its hostname ≤ 1 s,
SIGKILLed → unavailable ≤ 0.5 s, SIGSTOPped → ≤ 3 s, restarted on the same port → healthy ≤ 2.5 s.
"""

from __future__ import annotations

import asyncio
import functools
import time

import httpx
import pytest

from wsh_nb.errors import IdleTimeout, SessionNotFound
from wsh_nb.federation import Health, HealthSettings

from .test_federation import until

pytestmark = pytest.mark.anyio


@pytest.fixture
def real_federation(federation):
    """The ``federation`` factory with the shipped defaults: those must meet the targets."""
    return functools.partial(federation, settings=HealthSettings())


async def test_new_backend_healthy_with_hostname_within_1s(spawn_server, real_federation):
    backend = spawn_server("build-1")
    fed = real_federation()
    started = time.monotonic()
    entry = await fed.add(backend.url)
    await fed.wait_healthy(["build-1"], timeout=1.0)
    assert time.monotonic() - started <= 1.0
    assert entry.hostname == "build-1" and entry.server_id
    await until(lambda: entry.sessions == 0, 2, "session count")


async def test_sigkill_is_seen_within_half_a_second_and_restart_within_2_5s(spawn_server, real_federation):
    backend = spawn_server("phoenix")
    fed = real_federation()
    entry = await fed.add(backend.url)
    await fed.wait_healthy([], timeout=5)
    first_id = entry.server_id
    backend.kill()
    took = await until(lambda: entry.health is Health.UNAVAILABLE, 2, "unavailable after SIGKILL")
    assert took <= 0.5, took
    await asyncio.sleep(1.5)  # the outage itself: long enough for the backoff to reach its cap
    await asyncio.to_thread(backend.start)  # the same port (SO_REUSEADDR)
    took = await until(lambda: entry.health is Health.HEALTHY, 5, "healthy after restart")
    assert took <= 2.5, took
    assert entry.server_id != first_id and entry.hostname == "phoenix"


async def test_sigstop_is_seen_within_3s_and_thaw_recovers(spawn_server, real_federation):
    backend = spawn_server("frozen")
    fed = real_federation()
    entry = await fed.add(backend.url)
    await fed.wait_healthy([], timeout=5)
    backend.freeze()
    try:
        took = await until(lambda: entry.health is Health.UNAVAILABLE, 5, "unavailable after SIGSTOP")
        assert took <= 3.0, took
        assert "no pong" in entry.error
    finally:
        backend.thaw()
    took = await until(lambda: entry.health is Health.HEALTHY, 5, "healthy after SIGCONT")
    assert took <= 2.5, took


async def test_self_loop_rejected_via_server_id(spawn_server, real_federation):
    backend = spawn_server("loop")
    server_id = httpx.get(f"{backend.url}/server/info").json()["server_id"]
    fed = real_federation(own_hostname="loop", own_server_id=server_id)
    entry = await fed.add(backend.url)
    await until(lambda: entry.health is Health.REJECTED, 2, "rejected")
    assert "self-loop" in entry.error


async def test_same_hostname_twice_rejects_the_second(spawn_server, real_federation):
    first, second = spawn_server("twin"), spawn_server("twin")
    fed = real_federation()
    a = await fed.add(first.url)
    await fed.wait_healthy([first.url], timeout=5)
    b = await fed.add(second.url)
    await until(lambda: b.health is Health.REJECTED, 2, "collision")
    assert first.url in b.error and a.hostname == "twin"
    await fed.remove(second.url)
    await fed.remove("twin")
    assert fed.entries() == []


async def test_token_backend(spawn_server, real_federation):
    backend = spawn_server("locked", token="a-token-of-20-chars!")
    wrong = real_federation(default_token="not-the-right-token")
    entry = await wrong.add(backend.url)
    await until(lambda: entry.health is Health.UNAVAILABLE, 3, "refused")
    assert "403" in entry.error and "token" in entry.error
    right = real_federation()
    ok = await right.add(backend.url, "a-token-of-20-chars!")
    await right.wait_healthy([], timeout=5)
    assert ok.hostname == "locked"


async def test_session_calls_through_the_client(spawn_server, real_federation):
    backend = spawn_server("work")
    fed = real_federation()
    entry = await fed.add(backend.url)
    await fed.wait_healthy([], timeout=5)
    client = fed.route("work")
    info = await client.create_session({"name": "s1", "command": "cat", "tags": ["ci", "a"]})
    assert info["name"] == "s1" and info["server"] == "work" and info["tags"] == ["a", "ci"]
    await until(lambda: entry.sessions == 1, 2, "count from session_created")
    assert [s["name"] for s in await client.list_sessions(["ci"])] == ["s1"]
    await client.send_input("s1", b"hello\n")
    idle = await client.idle("s1", {"timeout_ms": 100, "max_wait_ms": 5000, "format": "plain"})
    assert any("hello" in line for line in idle["screen"]["lines"])
    screen = await client.screen("s1", "styled")
    assert len(screen["lines"]) == screen["rows"]
    page = await client.scrollback("s1", "plain", 0, 10)
    assert page["offset"] == 0
    anyone = await client.idle_any({"timeout_ms": 50, "max_wait_ms": 5000, "tag": "ci"})
    assert anyone["session"] == "s1" and anyone["server"] == "work"
    with pytest.raises(IdleTimeout):
        await client.idle("s1", {"timeout_ms": 50, "max_wait_ms": 100, "last_generation": idle["generation"]})
    renamed = await client.update_session("s1", {"name": "s2", "remove_tags": ["a"]})
    assert renamed["name"] == "s2" and renamed["tags"] == ["ci"]
    await client.detach("s2")
    await client.kill_session("s2")
    with pytest.raises(SessionNotFound) as err:
        await client.get_session("s2")
    assert err.value.server == "work"
    await until(lambda: entry.sessions == 0, 2, "count from session_destroyed")


async def test_removing_a_backend_leaves_its_sessions_running(spawn_server, real_federation):
    backend = spawn_server("keep")
    fed = real_federation()
    await fed.add(backend.url)
    await fed.wait_healthy([], timeout=5)
    await fed.route("keep").create_session({"name": "stay", "command": "cat"})
    await fed.remove("keep")
    names = [s["name"] for s in httpx.get(f"{backend.url}/sessions").json()]
    assert names == ["stay"]
