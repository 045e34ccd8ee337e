"""LoopThread with plain coroutines: results, errors, refusal on its own thread, cancellation, shutdown."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tests.helpers import wait_for
from tests.notebook.support import interrupt_main_after
from wsh_nb.notebook.loop import LoopThread


@pytest.fixture
def lt():
    loop_thread = LoopThread("wsh-test-loop")
    yield loop_thread
    loop_thread.close()


async def add(a: int, b: int, *, times: int = 1) -> int:
    return (a + b) * times


async def fail() -> None:
    raise ValueError("boom")


def test_call_runs_on_the_loop_thread_and_returns(lt):
    async def where() -> str:
        return threading.current_thread().name

    assert lt.call(add, 1, 2, times=3) == 9
    assert lt.call(where) == "wsh-test-loop"
    assert lt.thread.daemon


def test_call_reraises_the_loop_side_exception(lt):
    with pytest.raises(ValueError, match="boom"):
        lt.call(fail)


def test_call_from_the_loop_thread_is_refused_not_deadlocked(lt):
    async def reenter() -> str:
        try:
            lt.call(add, 1, 1)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    message = lt.call(reenter)
    assert "event loop thread itself" in message and "await" in message


def test_acall_from_another_loop(lt):
    async def main() -> int:
        return await lt.acall(add, 2, 3)

    assert asyncio.run(main()) == 5


def test_cancelling_the_awaiting_task_cancels_the_loop_side_task(lt):
    started, cancelled = threading.Event(), threading.Event()

    async def long() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def main() -> None:
        task = asyncio.ensure_future(lt.acall(long))
        while not started.is_set():
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(main(), 10))
    assert cancelled.wait(2)
    wait_for(lambda: lt.pending_calls == 0, 2, message="the loop-side task to finish")


def test_sigint_during_a_call_raises_promptly_and_cancels_the_loop_side_task(lt, sigint_default):
    cancelled = threading.Event()

    async def long() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    timer = interrupt_main_after(0.2)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        lt.call(long)
    elapsed = time.monotonic() - start
    timer.join()
    assert elapsed < 0.2 + 0.5
    assert cancelled.wait(2)
    wait_for(lambda: lt.pending_calls == 0, 2, message="the loop-side task to finish")
    assert lt.call(add, 1, 1) == 2  # still usable


def test_calls_from_many_threads(lt):
    results: list[int] = []
    barrier = threading.Barrier(50)

    def worker(i: int) -> None:
        barrier.wait(5)
        results.append(lt.call(add, i, 0))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == list(range(50))


def test_close_runs_finalizers_cancels_tasks_and_joins():
    lt = LoopThread("wsh-test-close")
    order: list[str] = []

    async def first() -> None:
        order.append("first")

    async def second() -> None:
        order.append("second")

    async def background() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            order.append("background cancelled")
            raise

    async def spawn() -> None:
        asyncio.get_running_loop().create_task(background())
        await asyncio.sleep(0)

    lt.on_close(first)
    lt.on_close(second)
    lt.call(spawn)
    lt.close()
    assert order == ["second", "first", "background cancelled"]
    assert not lt.thread.is_alive()
    assert lt.loop.is_closed()
    assert not asyncio.all_tasks(lt.loop)
    assert "wsh-test-close" not in {t.name for t in threading.enumerate()}
    lt.close()  # idempotent


def test_a_call_cut_short_by_close_raises_runtime_error():
    lt = LoopThread("wsh-test-cut")
    started = threading.Event()

    async def long() -> None:
        started.set()
        await asyncio.sleep(30)

    errors: list[BaseException] = []

    def caller() -> None:
        try:
            lt.call(long)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    assert started.wait(5)
    lt.close()
    thread.join(5)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert "closed" in str(errors[0])


def test_calls_after_close_say_what_to_do():
    lt = LoopThread("wsh-test-after")
    lt.close()
    with pytest.raises(RuntimeError, match="get_hub"):
        lt.call(add, 1, 1)


def test_close_from_the_loop_thread_is_refused(lt):
    async def close_inside() -> str:
        try:
            lt.close()
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "own loop thread" in lt.call(close_inside)


def test_aclose_from_another_loop():
    lt = LoopThread("wsh-test-aclose")
    done: list[str] = []

    async def fin() -> None:
        done.append("fin")

    lt.on_close(fin)
    asyncio.run(lt.aclose())
    assert done == ["fin"] and not lt.thread.is_alive() and lt.closed


def test_a_loop_side_timeout_error_is_raised_not_taken_for_a_slice(lt):
    async def times_out() -> None:
        raise TimeoutError("loop-side")

    start = time.monotonic()
    with pytest.raises(TimeoutError, match="loop-side"):
        lt.call(times_out)
    assert time.monotonic() - start < 1
