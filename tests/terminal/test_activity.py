"""Activity.wait_idle: every branch of WIRE.md's idle semantics, on a real event loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from wsh_nb.errors import IdleTimeout
from wsh_nb.terminal import Activity

pytestmark = pytest.mark.anyio


def quiet_for(a: Activity, seconds: float) -> Activity:
    a.last_activity = time.monotonic() - seconds
    return a


async def settle() -> None:
    """Let other tasks run until they block (no timing involved)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def busy(a: Activity, *, every: float, times: int) -> None:
    for _ in range(times):
        a.touch()
        await asyncio.sleep(every)  # the workload: output arriving every `every` seconds


async def test_starts_at_generation_zero_and_touch_counts() -> None:
    a = Activity()
    assert (a.generation, a.closed) == (0, False)
    before = a.last_activity
    a.touch()
    a.touch()
    assert a.generation == 2 and a.last_activity >= before
    assert 0 <= a.ms_since() < 1000
    assert quiet_for(a, 2.5).ms_since() >= 2500


async def test_returns_at_once_when_already_quiet() -> None:
    a = quiet_for(Activity(), 1.0)
    a.touch()
    a.last_activity -= 1.0
    t = time.monotonic()
    assert await a.wait_idle(500, max_wait_ms=5000) == 1
    assert time.monotonic() - t < 0.1


async def test_zero_timeout_is_immediate_even_with_zero_max_wait() -> None:
    a = Activity()
    a.touch()
    assert await a.wait_idle(0, max_wait_ms=0) == 1


async def test_waits_until_quiet_for_timeout() -> None:
    a = Activity()
    a.touch()
    t = time.monotonic()
    assert await a.wait_idle(150, max_wait_ms=5000) == 1
    assert time.monotonic() - a.last_activity >= 0.15
    assert 0.1 <= time.monotonic() - t < 2


async def test_busy_session_is_idle_only_after_output_stops() -> None:
    a = Activity()
    worker = asyncio.create_task(busy(a, every=0.01, times=30))
    gen = await a.wait_idle(100, max_wait_ms=10000)
    assert worker.done()
    assert gen == a.generation == 30
    assert time.monotonic() - a.last_activity >= 0.1


async def test_last_generation_blocks_until_new_activity() -> None:
    a = quiet_for(Activity(), 5.0)
    waiter = asyncio.create_task(a.wait_idle(50, max_wait_ms=10000, last_generation=0))
    await settle()
    assert not waiter.done()  # quiet for 5 s, yet it waits for something new
    a.touch()
    t = time.monotonic()
    assert await waiter == 1
    assert time.monotonic() - t >= 0.04


async def test_last_generation_not_current_does_not_block() -> None:
    a = quiet_for(Activity(), 1.0)
    a.touch()
    a.touch()
    a.last_activity -= 1.0
    assert await a.wait_idle(50, max_wait_ms=1000, last_generation=1) == 2


async def test_last_generation_waiters_share_wakeup_and_survive_cancellation() -> None:
    a = quiet_for(Activity(), 1.0)
    w1 = asyncio.create_task(a.wait_idle(10, max_wait_ms=10000, last_generation=0))
    w2 = asyncio.create_task(a.wait_idle(10, max_wait_ms=10000, last_generation=0))
    await settle()
    w1.cancel()
    with pytest.raises(asyncio.CancelledError):
        await w1
    a.touch()
    assert await asyncio.wait_for(w2, 5) == 1


async def test_fresh_observes_silence_after_the_call() -> None:
    a = quiet_for(Activity(), 10.0)
    t = time.monotonic()
    assert await a.wait_idle(150, max_wait_ms=5000, fresh=True) == 0
    assert time.monotonic() - t >= 0.15


async def test_fresh_with_activity_during_the_wait() -> None:
    a = quiet_for(Activity(), 10.0)
    waiter = asyncio.create_task(a.wait_idle(100, max_wait_ms=10000, fresh=True))
    await busy(a, every=0.02, times=5)
    gen = await waiter
    assert gen == 5
    assert time.monotonic() - a.last_activity >= 0.1


async def test_max_wait_raises_idle_timeout_with_advice() -> None:
    a = Activity()
    worker = asyncio.create_task(busy(a, every=0.01, times=100))
    t = time.monotonic()
    with pytest.raises(IdleTimeout) as info:
        await a.wait_idle(200, max_wait_ms=300)
    elapsed = time.monotonic() - t
    worker.cancel()
    assert 0.25 <= elapsed < 2
    assert isinstance(info.value, TimeoutError)
    assert info.value.code == "idle_timeout" and info.value.status == 408
    assert "200 ms" in str(info.value) and "300 ms" in str(info.value)
    assert "raise max_wait_ms or lower timeout_ms" in str(info.value)


async def test_max_wait_bounds_a_wait_blocked_on_generation() -> None:
    a = quiet_for(Activity(), 1.0)
    t = time.monotonic()
    with pytest.raises(IdleTimeout, match="raise max_wait_ms"):
        await a.wait_idle(10, max_wait_ms=150, last_generation=0)
    assert 0.1 <= time.monotonic() - t < 2


async def test_closed_returns_at_once() -> None:
    a = Activity()
    a.touch()
    a.close()
    assert a.closed
    assert await a.wait_idle(100000, max_wait_ms=300000, last_generation=1, fresh=True) == 1


async def test_close_wakes_every_waiter() -> None:
    a = Activity()
    a.touch()
    blocked = asyncio.create_task(a.wait_idle(10, max_wait_ms=60000, last_generation=1))
    timed = asyncio.create_task(a.wait_idle(60000, max_wait_ms=60000))
    fresh = asyncio.create_task(a.wait_idle(60000, max_wait_ms=60000, fresh=True))
    await settle()
    assert not any(w.done() for w in (blocked, timed, fresh))
    a.close()
    done = await asyncio.wait_for(asyncio.gather(blocked, timed, fresh), 2)
    assert done == [1, 1, 1]


async def test_cancelling_a_timed_wait_leaves_activity_usable() -> None:
    a = Activity()
    waiter = asyncio.create_task(a.wait_idle(60000, max_wait_ms=60000))
    await settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    a.touch()
    a.last_activity -= 1
    assert await a.wait_idle(100, max_wait_ms=1000) == 1
    a.close()
    assert await a.wait_idle(60000, max_wait_ms=60000) == 1


async def test_wait_for_around_wait_idle_cancels_cleanly() -> None:
    a = Activity()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(a.wait_idle(60000, max_wait_ms=60000, last_generation=0), 0.05)
    a.touch()
    a.last_activity -= 1
    assert await a.wait_idle(10, max_wait_ms=1000, last_generation=0) == 1
