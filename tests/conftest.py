"""Shared fixtures: real ``wsh-nb serve`` processes on loopback, ephemeral ports, always reaped."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import httpx
import pytest

from wsh_nb.launchers import BackendProcess, LocalCluster

# Sessions started without a command run $SHELL; under test that is /bin/sh, so the machine's rc files
# (a slow `pyenv rehash` in ~/.bashrc, say) cannot slow or hang a test.
os.environ["SHELL"] = "/bin/sh"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def spawn_server(tmp_path) -> Iterator[Callable[..., BackendProcess]]:
    """Factory: ``spawn_server(hostname="b1", token=None, args=[...])`` → a started BackendProcess."""
    started: list[BackendProcess] = []

    def spawn(
        hostname: str | None = None, *, token: str | None = None, args=(), host="127.0.0.1", port: int = 0
    ) -> BackendProcess:
        name = hostname or f"srv{len(started)}"
        proc = BackendProcess(
            hostname=hostname,
            token=token,
            args=args,
            host=host,
            port=port,
            log_path=tmp_path / f"{name}-{len(started)}.log",
        )
        started.append(proc)
        return proc.start()

    yield spawn
    for proc in started:
        proc.kill()


@pytest.fixture
def server(spawn_server) -> BackendProcess:
    """One plain backend named ``solo``."""
    return spawn_server("solo")


@pytest.fixture
def client(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture
def cluster(tmp_path) -> Iterator[LocalCluster]:
    """Three backends: build-1, test-1, deploy-1."""
    with LocalCluster(3, log_dir=tmp_path) as c:
        yield c
