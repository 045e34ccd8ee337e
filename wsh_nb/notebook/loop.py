"""LoopThread: the hub's own asyncio loop in a daemon thread — the only cross-thread code in wsh_nb.

Everything loop-bound (the AsyncHub, its clients, its health tasks) is built, used and closed on this
loop; other threads (the kernel's main thread, widget callbacks, user threads) reach it only through
``call`` (blocking) and ``acall`` (awaitable from another loop).  The rules, each borrowed from anyio's
``BlockingPortal`` and jupyter_client's ``threaded.py``:

* **Refuse calls from the loop thread itself** with a clear error, instead of deadlocking.
* **Cancel in both directions.**  A blocking ``call`` waits in slices of at most 0.1 s, so Ctrl-C (SIGINT,
  what a kernel interrupt sends) raises ``KeyboardInterrupt`` in the caller at once; the caller then
  cancels the loop-side task.  A caller of ``acall`` that is cancelled cancels the loop-side task too
  (``asyncio.wrap_future`` chains the cancellation).  A call cut short by ``close()`` raises
  ``RuntimeError`` in its caller, not a bare ``CancelledError``.
* **Re-raise start-up errors in the caller**: the loop is up before ``__init__`` returns, and building the
  loop-bound objects is just the first ``call`` (its exception propagates like any other).
* **Close loop-bound objects before the thread stops**: ``close()`` runs the ``on_close`` finalizers on the
  loop (newest first), cancels and awaits every remaining task, shuts down async generators and the default
  executor, closes the loop and joins the thread.  ``atexit`` closes a loop thread that is still open.

Why a plain thread + ``asyncio`` loop rather than ``anyio.from_thread.start_blocking_portal``: the hub is
asyncio-only (its HTTP transport, websockets, ``add_reader`` PTYs), so the portal's backend neutrality buys
nothing, while a bare ``run_coroutine_threadsafe`` round trip is ~25 % cheaper than ``portal.start_task_soon``
(≈115 vs ≈150 µs measured here, on the hot path of every facade call) and the shutdown order above —
finalizers, then cancel everything, then executor, then join — is explicit in ~40 lines instead of being
spread over the portal's task group.  Nothing here prints; there is no ``nest_asyncio`` and no
``asyncio.run`` on anybody else's loop.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

SLICE = 0.1  # longest uninterruptible wait of a blocking call, in seconds


class LoopThread:
    """A running asyncio loop in a daemon thread named ``name``; see the module docstring."""

    def __init__(self, name: str = "wsh-hub") -> None:
        self.name = name
        self._loop = asyncio.new_event_loop()
        self._calls: set[asyncio.Task[Any]] = set()
        self._finalizers: list[Callable[[], Awaitable[object]]] = []
        self._ready = threading.Event()
        self._closed = False
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        while not self._ready.wait(SLICE):  # sliced: Ctrl-C during start-up still lands
            if not self._thread.is_alive():
                raise RuntimeError(f"the {name} loop thread died while starting")
        atexit.register(self.close)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._calls)} calls"
        return f"<LoopThread {self.name} {state}>"

    # -- the thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(self._drain())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    async def _drain(self) -> None:
        """Cancel and await every task still on the loop (hub tasks included)."""
        current = asyncio.current_task()
        for _ in range(10):  # cancelled tasks may start others; a few rounds settle it
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            if not tasks:
                return
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=2.0)

    # -- properties -----------------------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending_calls(self) -> int:
        """Calls submitted through this loop thread that are still running on the loop."""
        return len(self._calls)

    def in_loop_thread(self) -> bool:
        return threading.get_ident() == self._thread.ident

    # -- calling in -----------------------------------------------------------------------------
    def submit(
        self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)`` on the loop; the coroutine is created there."""
        if self.in_loop_thread():
            raise RuntimeError(
                f"this call was made from the {self.name} event loop thread itself, where waiting for it "
                "would deadlock; from code running on the hub loop, await the AsyncHub method instead"
            )
        if self._closed:
            raise RuntimeError("this hub is closed; create a new Hub() or call wsh_nb.get_hub()")
        coro = self._tracked(fn, args, kwargs)
        try:
            return asyncio.run_coroutine_threadsafe(coro, self._loop)
        except RuntimeError:  # the loop closed between the check and here
            coro.close()
            raise RuntimeError("this hub is closed; create a new Hub() or call wsh_nb.get_hub()") from None

    async def _tracked(self, fn: Callable[..., Awaitable[T]], args: Any, kwargs: Any) -> T:
        task = asyncio.current_task()
        assert task is not None
        self._calls.add(task)
        try:
            return await fn(*args, **kwargs)
        finally:
            self._calls.discard(task)

    def call(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop and wait for it, in short slices.

        Any exception in the caller while waiting (``KeyboardInterrupt`` above all) cancels the loop-side
        task before it propagates.
        """
        future = self.submit(fn, *args, **kwargs)
        try:
            while not future.done():
                # exception(), not result(): a loop-side TimeoutError (IdleTimeout, HealthTimeout) must
                # not be mistaken for the end of a slice
                with contextlib.suppress(concurrent.futures.TimeoutError):
                    future.exception(SLICE)
                if self._closed and not self._thread.is_alive() and not future.done():
                    raise RuntimeError("the hub was closed before this call could run")
            return future.result()
        except concurrent.futures.CancelledError:
            raise RuntimeError("the hub was closed while this call was running") from None
        except BaseException:
            future.cancel()
            raise

    async def acall(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn(*args, **kwargs)`` running on this loop from another thread's running loop."""
        future = self.submit(fn, *args, **kwargs)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if future.cancelled() and not _current_task_cancelling():
                raise RuntimeError("the hub was closed while this call was running") from None
            raise

    # -- closing --------------------------------------------------------------------------------
    def on_close(self, finalizer: Callable[[], Awaitable[object]]) -> None:
        """Register an async function that ``close()`` awaits on the loop (newest first)."""
        self._finalizers.append(finalizer)

    async def _finalize(self) -> None:
        while self._finalizers:
            finalizer = self._finalizers.pop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(finalizer(), 10.0)

    def close(self, timeout: float = 15.0) -> None:
        """Run the finalizers, cancel every task, stop the loop and join the thread.  Idempotent."""
        if self.in_loop_thread():
            raise RuntimeError(
                "close() was called from the hub's own loop thread; call it from another thread, "
                "or await aclose() from another loop"
            )
        with self._close_lock:
            if self._closed:
                return
            try:
                if self._thread.is_alive():
                    future = self.submit(self._finalize)
                    deadline = time.monotonic() + timeout
                    while not future.done() and time.monotonic() < deadline:
                        with contextlib.suppress(concurrent.futures.TimeoutError):
                            future.exception(SLICE)
            finally:
                self._stop_and_join(timeout)

    def _stop_and_join(self, timeout: float) -> None:
        self._closed = True
        atexit.unregister(self.close)
        with contextlib.suppress(RuntimeError):  # already closed
            self._loop.call_soon_threadsafe(self._loop.stop)
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._thread.join(SLICE)

    async def aclose(self, timeout: float = 15.0) -> None:
        """``close()`` for a caller on another running loop: finalizers are awaited, not blocked on."""
        if self.in_loop_thread():
            raise RuntimeError("aclose() was awaited on the hub's own loop; await it from another loop")
        if self._closed:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.wrap_future(self.submit(self._finalize)), timeout)
        await asyncio.to_thread(self.close, timeout)


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    if task is None:
        return False
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+; older: assume the caller was cancelled
    return cancelling is None or cancelling() > 0
