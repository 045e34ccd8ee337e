from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from wsh_nb.launchers import BackendProcess


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory) -> Iterator[BackendProcess]:
    """One server for a whole module (tests use unique session names and clean up)."""
    proc = BackendProcess(hostname="shared", log_path=tmp_path_factory.mktemp("srv") / "shared.log")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def api(shared_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_server.url, timeout=30) as c:
        yield c


@pytest.fixture
def name() -> str:
    return "t-" + uuid.uuid4().hex[:10]


@pytest.fixture
def shell(api, name) -> Iterator[str]:
    """A session running an interactive /bin/sh with a fixed prompt; killed afterwards."""
    r = api.post("/sessions", json={"name": name, "command": "PS1='$ ' exec /bin/sh", "env": {"PS1": "$ "}})
    assert r.status_code == 201, r.text
    yield name
    api.delete(f"/sessions/{name}")
