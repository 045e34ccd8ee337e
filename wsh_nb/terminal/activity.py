"""Activity of one session: a generation counter, the time of the last activity, and idle waits.

Activity is every chunk read from the PTY and every accepted input (WIRE.md §3 "Idle detection").
Waits are cheap: a waiter that only needs quiet sleeps until ``last_activity + timeout`` and re-checks,
so a chatty session costs nothing per chunk; only waiters blocked on a generation (``last_generation``
equal to the current one) are woken by ``touch()``, through one future they all share.

Everything here runs on one event loop thread; nothing is thread-safe on purpose.
"""

from __future__ import annotations

import asyncio
import time

from wsh_nb.errors import IdleTimeout


class Activity:
    """Generation + last activity of one session, and ``wait_idle`` over them."""

    def __init__(self) -> None:
        self.generation: int = 0
        self.last_activity: float = time.monotonic()
        self.closed: bool = False
        # Resolved by the next touch() or close(); shared by every waiter blocked on a generation.
        self._changed: asyncio.Future[None] | None = None
        # Resolved by close(); lets timed sleeps end early when the process ends.
        self._closed_fut: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.ms_since()} ms quiet"
        return f"<Activity generation={self.generation} {state}>"

    def touch(self) -> None:
        """Record activity now: ``generation += 1``; wakes waiters blocked on a generation."""
        self.generation += 1
        self.last_activity = time.monotonic()
        fut = self._changed
        if fut is not None:
            self._changed = None
            if not fut.done():
                fut.set_result(None)

    def close(self) -> None:
        """The process ended: no more activity will come; every waiter returns at once."""
        self.closed = True
        for fut in (self._changed, self._closed_fut):
            if fut is not None and not fut.done():
                fut.set_result(None)
        self._changed = None

    def ms_since(self) -> int:
        """Milliseconds since the last activity."""
        return int((time.monotonic() - self.last_activity) * 1000)

    async def wait_idle(
        self,
        timeout_ms: int,
        *,
        max_wait_ms: int,
        last_generation: int | None = None,
        fresh: bool = False,
    ) -> int:
        """Wait until the session has been quiet for ``timeout_ms``; return the generation seen then.

        - ``last_generation`` equal to the current generation: first block until new activity.
        - ``fresh``: the quiet must also last ``timeout_ms`` after this call started.
        - ``max_wait_ms`` bounds the whole wait; running out raises ``IdleTimeout``.
        - A closed activity (the process ended) returns at once.
        Cancelling the waiting task leaves nothing behind.
        """
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        deadline = start + max(0, max_wait_ms) / 1000
        timeout = max(0, timeout_ms) / 1000

        if last_generation is not None and last_generation == self.generation and not self.closed:
            while self.generation == last_generation and not self.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise IdleTimeout(
                        f"no new activity after generation {last_generation} within {max_wait_ms} ms, "
                        f"so not idle for {timeout_ms} ms; raise max_wait_ms or lower timeout_ms"
                    )
                if self._changed is None or self._changed.done() or self._changed.get_loop() is not loop:
                    self._changed = loop.create_future()
                # asyncio.wait never cancels the shared future, on timeout or when we are cancelled.
                await asyncio.wait({self._changed}, timeout=remaining)

        while True:
            if self.closed:
                return self.generation
            now = time.monotonic()
            quiet_since = max(self.last_activity, start) if fresh else self.last_activity
            idle_at = quiet_since + timeout
            if now >= idle_at:
                return self.generation
            if now >= deadline:
                raise IdleTimeout(
                    f"not idle for {timeout_ms} ms within {max_wait_ms} ms; "
                    f"raise max_wait_ms or lower timeout_ms"
                )
            if self._closed_fut is None or self._closed_fut.get_loop() is not loop:
                self._closed_fut = loop.create_future()
            await asyncio.wait({self._closed_fut}, timeout=min(idle_at, deadline) - now)
