"""Shared by the demo tests: a per-test environment marker that every child process inherits, so the
processes a test started (and only those) can be found afterwards, whoever else runs servers meanwhile."""

from __future__ import annotations

import os
import uuid

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


def still_running(marker: str) -> list[str]:
    """Command lines of marked processes still alive after a grace period (then killed, so they do not
    leak into the next test).  The grace period is a deadline on processes exiting, not a sleep."""
    _, alive = psutil.wait_procs(marked_processes(marker), timeout=5)
    out = []
    for proc in alive:
        try:
            out.append(" ".join(proc.cmdline()))
            proc.kill()
        except psutil.Error:
            continue
    return out
