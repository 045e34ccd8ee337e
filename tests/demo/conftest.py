"""Shared by the demo tests: a per-test environment marker that every child process inherits, so the
processes a test started (and only those) can be found afterwards, whoever else runs servers meanwhile."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import psutil
import pytest

MARKER_VAR = "WSH_NB_DEMO_TEST_RUN"


def marked_processes(marker: str) -> list[psutil.Process]:
    """Live (non-zombie) processes whose environment carries ``MARKER_VAR=marker``."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get(MARKER_VAR) == marker:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture
def run_marker(monkeypatch) -> str:
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER_VAR, marker)
    monkeypatch.setenv("WSH_NONINTERACTIVE", "1")
    return marker


@pytest.fixture
def leftovers() -> Callable[[str], list[str]]:
    """``leftovers(marker)`` → command lines of marked processes still alive after a short grace period.

    The grace period is a deadline on a condition (processes exiting after SIGTERM), not a sleep.
    """

    def check(marker: str) -> list[str]:
        procs = marked_processes(marker)
        _, alive = psutil.wait_procs(procs, timeout=5)
        out = []
        for proc in alive:
            try:
                out.append(" ".join(proc.cmdline()))
            except psutil.Error:
                continue
        for proc in alive:  # do not leak them into the next test either
            try:
                proc.kill()
            except psutil.Error:
                pass
        return out

    return check
