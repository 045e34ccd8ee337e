"""Fixtures for the federation tests: hostile servers on the test's loop, a Federation that is closed."""

from __future__ import annotations

import uuid

import pytest

from wsh_nb.events import EventBus
from wsh_nb.federation import Federation, HealthSettings

from .hostile import Hostile

FAST = HealthSettings(
    ping_interval=0.1,
    pong_timeout=0.3,
    open_timeout=0.5,
    backoff_initial=0.05,
    backoff_max=0.2,
    connect_timeout=1.0,
    request_timeout=2.0,
)


@pytest.fixture
async def hostile(anyio_backend):
    servers: list[Hostile] = []

    async def make(hostname: str = "hostile", **kw) -> Hostile:
        server = await Hostile(hostname, **kw).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()


@pytest.fixture
async def federation(anyio_backend):
    made: list[Federation] = []

    def make(**kw) -> Federation:
        kw.setdefault("own_hostname", "hub")
        kw.setdefault("own_server_id", str(uuid.uuid4()))
        kw.setdefault("events", EventBus())
        kw.setdefault("settings", FAST)
        fed = Federation(**kw)
        made.append(fed)
        return fed

    yield make
    for fed in made:
        await fed.aclose()
