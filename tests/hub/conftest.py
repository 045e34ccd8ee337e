from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import wait_for
from wsh_nb.launchers import BackendProcess


@pytest.fixture
def hub_server(spawn_server) -> BackendProcess:
    return spawn_server("hub")


@pytest.fixture
def hub(hub_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub_server.url, timeout=30) as c:
        yield c


def server_entry(hub: httpx.Client, handle: str) -> dict:
    r = hub.get(f"/servers/{handle}")
    assert r.status_code == 200, r.text
    return r.json()


def health_of(hub: httpx.Client, handle: str) -> str | None:
    """The entry's health, or None while no entry answers to ``handle`` (hostname not learned yet)."""
    r = hub.get(f"/servers/{handle}")
    return r.json()["health"] if r.status_code == 200 else None


def join(hub: httpx.Client, *backends: BackendProcess, timeout: float = 5.0) -> None:
    """Register backends and wait until each is healthy under its own hostname."""
    for b in backends:
        assert hub.post("/servers", json={"address": b.url}).status_code == 201
    for b in backends:
        wait_for(
            lambda b=b: any(
                s["hostname"] == b.hostname and s["health"] == "healthy" for s in hub.get("/servers").json()
            ),
            timeout=timeout,
            message=f"{b.hostname} healthy",
        )
