"""Kernel realities: Ctrl-C during a long wait, many threads at once, a clean close, one hub per kernel."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from tests.helpers import wait_for
from tests.notebook.support import SH, interrupt_main_after
from wsh_nb import Hub, get_hub
from wsh_nb.notebook.facade import _forget_kernel_hub


@pytest.mark.parametrize("where", ["local", "remote"])
def test_sigint_during_a_long_wait_idle_raises_promptly_and_cancels_the_hub_side_wait(
    solo_hub, sigint_default, where
):
    hub = solo_hub
    s = hub.create_session("long", server="solo" if where == "remote" else None, command=SH)
    s.wait_idle(timeout_ms=100)  # the shell is up
    timer = interrupt_main_after(0.3)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        s.wait_idle(timeout_ms=20000, max_wait_ms=30000, fresh=True)  # 20 s of silence: a long wait
    elapsed = time.monotonic() - start
    timer.join()
    assert elapsed < 0.3 + 0.5, f"KeyboardInterrupt took {elapsed - 0.3:.3f} s after SIGINT"
    wait_for(lambda: hub._loop.pending_calls == 0, 2, message="the hub-side wait to be cancelled")
    s.send("echo still-works-$((1+1))\n")  # the hub is fine afterwards
    wait_for(lambda: "still-works-2" in s.screen(format="plain").text, 20, message="the hub to answer")


def test_fifty_threads_list_sessions_concurrently(solo_hub):
    hub = solo_hub
    for i in range(3):
        hub.create_session(f"r{i}", server="solo", command=SH)
        hub.create_session(f"l{i}", command=SH)
    barrier = threading.Barrier(50)
    results: list[list[str]] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(10)
            results.append(sorted(hub.sessions()["name"]))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures
    assert results == [["l0", "l1", "l2", "r0", "r1", "r2"]] * 50


def _net_to(ports: set[int]) -> list:
    return [c for c in psutil.Process().net_connections(kind="inet") if c.raddr and c.raddr.port in ports]


def test_close_leaves_no_threads_tasks_sockets_or_children(cluster):
    me = psutil.Process()
    threads_before = {t.ident for t in threading.enumerate()}
    backends = {b.pid for b in cluster}

    def ours() -> set[int]:
        """This process's descendants, not counting the backends' own (their sessions stay theirs)."""
        out = set()
        for child in me.children():
            if child.pid not in backends:
                out |= {child.pid} | {p.pid for p in child.children(recursive=True)}
        return out

    assert not ours()
    ports = {b.port for b in cluster}

    hub = Hub(hostname="closing")
    for backend in cluster:
        hub.add_server(backend.url)
    hub.wait_healthy(timeout=10)
    for i, backend in enumerate(cluster):
        hub.create_session(f"r{i}", server=backend.hostname, command=SH)
    local = [hub.create_session(f"l{i}", command="sleep 60") for i in range(2)]
    hub.sessions()
    assert _net_to(ports), "the hub should be talking to its backends"
    pids = {s.info()["pid"] for s in local}
    assert pids <= ours()

    hub.close()
    assert hub.closed and not hub._loop.thread.is_alive()
    assert not asyncio.all_tasks(hub._loop.loop)
    assert {t.ident for t in threading.enumerate()} <= threads_before
    wait_for(lambda: not _net_to(ports), 5, message="no sockets to the backends")
    wait_for(lambda: not ours(), 5, message="local session processes reaped")
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids
    )
    with pytest.raises(RuntimeError, match="closed"):
        hub.sessions()
    hub.close()  # idempotent


def test_get_hub_is_one_hub_per_kernel_and_replaces_a_closed_one():
    _forget_kernel_hub()
    try:
        first = get_hub()
        assert get_hub() is first
        seen: list[Hub] = []
        threads = [threading.Thread(target=lambda: seen.append(get_hub())) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert all(h is first for h in seen) and len(seen) == 10
        first.close()
        second = get_hub()
        assert second is not first and not second.closed
    finally:
        _forget_kernel_hub()


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, env=env
    )


def test_get_hub_survives_reloads_and_reimports():
    out = _run_python("""
        import importlib, sys
        import wsh_nb
        from wsh_nb.notebook import facade
        hub = wsh_nb.get_hub()
        hub.create_session("kept", command="sleep 30")
        importlib.reload(wsh_nb)                    # what %reload_ext wsh_nb does
        importlib.reload(facade)                    # what %autoreload does to an edited module
        assert facade.get_hub() is hub, "reload orphaned the hub"
        for name in [m for m in sys.modules if m.startswith("wsh_nb")]:
            del sys.modules[name]                   # a full re-import
        import wsh_nb as again
        assert again.get_hub() is hub, "re-import orphaned the hub"
        print("names", sorted(hub.sessions()["name"]))
        hub.close()
    """)
    assert out.returncode == 0, out.stderr
    assert "names ['kept']" in out.stdout


def test_interpreter_exit_closes_a_hub_left_open():
    out = _run_python("""
        from wsh_nb import Hub
        hub = Hub(hostname="left-open")
        s = hub.create_session("orphan", command="sleep 60")
        print(s.info()["pid"], flush=True)
    """)  # no close(): atexit must kill the session
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.split()[0])
    wait_for(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
        5,
        message="the left-open hub's session to be killed at exit",
    )
    assert out.stderr == ""  # nothing printed from the hub thread


def test_calls_from_the_hub_loop_are_refused_with_a_clear_error(hub):
    async def from_inside() -> str:
        try:
            hub.sessions()
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "await the AsyncHub method" in hub._loop.call(from_inside)
