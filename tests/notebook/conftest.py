"""Notebook fixtures: a real in-process Hub (its own loop thread) joined to real backend processes."""

from __future__ import annotations

import pytest

from tests.notebook.support import default_sigint
from wsh_nb import Hub


@pytest.fixture
def hub():
    with Hub(hostname="kernel") as h:
        yield h


@pytest.fixture
def solo_hub(hub, server):
    """The hub with the ``solo`` backend registered and healthy."""
    hub.add_server(server.url)
    hub.wait_healthy("solo", timeout=10)
    return hub


@pytest.fixture
def cluster_hub(hub, cluster):
    """The hub with build-1, test-1 and deploy-1 registered and healthy."""
    for backend in cluster:
        hub.add_server(backend.url)
    hub.wait_healthy(timeout=10)
    return hub


@pytest.fixture
def sigint_default():
    with default_sigint():
        yield
