"""Test helpers: condition waits with deadlines (never sleeps as synchronisation)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_for(
    predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01, message: str = "condition"
) -> object:
    """Poll ``predicate`` until truthy; fail the test with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)
