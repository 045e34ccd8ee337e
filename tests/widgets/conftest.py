"""Widget fixtures: a Hub in the test process with the three-backend cluster registered and healthy."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from wsh_nb.notebook.facade import Hub

WIDGET_THREADS = ("wsh-dashboard", "wsh-grid", "wsh-terminal")


@pytest.fixture
def hub(cluster) -> Iterator[Hub]:
    with Hub(hostname="nb") as h:
        for backend in cluster:
            h.add_server(backend.url)
        h.wait_healthy(timeout=15)
        yield h


def widget_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(WIDGET_THREADS) and t.is_alive()]


@pytest.fixture(autouse=True)
def no_leaked_widget_threads() -> Iterator[None]:
    yield
    leaked = widget_threads()
    assert not leaked, f"widget threads still running after the test: {leaked}"
