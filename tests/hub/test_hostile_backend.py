"""A malicious backend behind a real hub (AsyncHub served over HTTP in-process): never trusted,
never crashes the hub, always reported — 502 on proxied calls, left out of listings."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.federation.hostile import Hostile, json_reply, raw_reply, slow_reply
from wsh_nb.hub import AsyncHub
from wsh_nb.server import serve_hub

pytestmark = pytest.mark.anyio

GOOD = {
    "name": "ok",
    "server": "evil",
    "pid": 1,
    "command": "sh",
    "rows": 24,
    "cols": 80,
    "clients": 0,
    "tags": [],
    "last_activity_ms": 5,
}


async def healthy(hub: AsyncHub, hostname: str, timeout: float = 5.0) -> None:
    await hub.wait_healthy(hostname, timeout=timeout)


@pytest.fixture
async def served():
    evil = await Hostile("evil").start()
    hub = await AsyncHub(hostname="hub", listing_timeout=1.0).start()
    running = await serve_hub(hub)
    await hub.add_server(evil.url)
    await healthy(hub, "evil")
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
        yield hub, evil, client
    await running.aclose()
    await hub.aclose()
    await evil.close()


async def entry_error(client: httpx.AsyncClient) -> str | None:
    return (await client.get("/servers/evil")).json()["error"]


@pytest.mark.parametrize(
    "reply, problem",
    [
        (raw_reply(b"<html>surprise</html>", content_type="text/html"), "JSON"),
        (
            json_reply(
                {
                    "name": "../x",
                    "server": "evil",
                    "pid": 1,
                    "command": "x",
                    "rows": 1,
                    "cols": 1,
                    "clients": 0,
                    "tags": [],
                    "last_activity_ms": 0,
                }
            ),
            "name",
        ),
        (json_reply([1, 2, 3]), "object"),
    ],
)
async def test_broken_proxied_answers_are_502_and_reported(served, reply, problem):
    _hub, evil, client = served
    evil.replies[("GET", "/sessions/x")] = reply
    r = await client.get("/sessions/x", params={"server": "evil"})
    assert r.status_code == 502, r.text
    err = r.json()["error"]
    assert err["code"] == "bad_gateway" and "evil" in err["message"]
    assert await entry_error(client)
    assert (await client.get("/health")).status_code == 200


async def test_garbage_listing_is_left_out_and_named_in_the_partial_header(served):
    hub, evil, client = served
    await hub.create_session("mine", command="cat")
    for body in ([{**GOOD, "name": "../x"}], [GOOD] * 100_000, {"not": "a list"}):
        evil.replies[("GET", "/sessions")] = json_reply(body)
        r = await client.get("/sessions")
        assert r.status_code == 200
        assert r.headers["x-wsh-partial"] == "evil"
        assert [s["name"] for s in r.json()] == ["mine"]


async def test_extra_fields_are_stripped_and_server_is_forced(served):
    _hub, evil, client = served
    evil.replies[("GET", "/sessions")] = json_reply([{**GOOD, "server": "someone-else", "evil": "<script>"}])
    r = await client.get("/sessions")
    listing = r.json()
    assert listing == [{**GOOD, "server": "evil"}]


async def test_a_hanging_backend_does_not_delay_the_listing_beyond_its_timeout(served):
    _hub, evil, client = served
    release = asyncio.Event()
    evil.replies[("GET", "/sessions")] = slow_reply(evil, release)
    start = time.monotonic()
    r = await client.get("/sessions")
    elapsed = time.monotonic() - start
    release.set()
    assert r.headers["x-wsh-partial"] == "evil"
    assert elapsed < 2.5  # listing_timeout is 1 s


async def test_bad_hostname_from_server_info_is_rejected(anyio_backend):
    evil = await Hostile("has spaces").start()
    async with AsyncHub(hostname="hub") as hub:
        await hub.add_server(evil.url)
        for _ in range(200):
            entry = (await hub.list_servers())[1]
            if entry["health"] == "rejected":
                break
            await asyncio.sleep(0.01)
        assert entry["health"] == "rejected" and entry["hostname"] is None
        assert "hostname" in entry["error"]
    await evil.close()
