"""The widgets' only threads: a throttled updater per widget, short-lived action threads, event hook-up.

How state reaches a widget:

* The hub's loop calls our event callback for every ``server_health`` / ``session_*`` event.  The callback
  only sets a ``threading.Event`` (``Updater.poke``): the hub loop is never blocked by a widget.
* The widget's ``Updater`` thread wakes on a poke (or on its timer, for sampled state such as screens and
  "last seen"), waits out the throttle (at most ``rate`` refreshes a second, so a burst of events becomes
  one refresh) and calls the widget's ``refresh()``, which talks only to the sync ``Hub`` facade and sets
  traits inside ``hold_sync()`` (one comm message per widget per refresh).
* Setting traits from a non-main thread is fine in ipykernel: comm messages go out through its
  thread-safe IOPub socket, and the front end routes them by comm id (no parent header needed).
* Button clicks arrive on the kernel's shell thread; anything that may block (``wait_healthy``) runs in an
  ``Actions`` thread that checks the widget's stop flag between short slices.

``close()`` on a widget stops its updater and joins it, then joins its action threads: nothing keeps
running afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

MAX_RATE = 5.0  # refreshes per second, per widget


class Updater:
    """A daemon thread running ``refresh()`` when poked or every ``interval`` s, at most ``rate``/s.

    ``refresh`` is a plain function or a coroutine function; a coroutine runs on the updater's own
    private event loop, so a refresh can fetch many screens concurrently through the facade's async twins
    with a deadline each (a frozen server then stalls only its own cards), and ``close()`` cancels an
    in-flight refresh instead of waiting for it.  ``refresh`` exceptions go to ``on_error`` (the widget
    shows them); a closed hub stops the updater.
    """

    def __init__(
        self,
        name: str,
        refresh: Callable[[], Any],
        *,
        rate: float = MAX_RATE,
        interval: float | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        hub: Any = None,
    ) -> None:
        self.name = name
        self._refresh = refresh
        self._async = inspect.iscoroutinefunction(refresh)
        self._gap = 1.0 / max(0.01, min(rate, MAX_RATE))
        self._interval = interval
        self._on_error = on_error
        self._hub = hub
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.refreshes = 0  # completed refresh() calls (tests, diagnostics)

    def start(self) -> Updater:
        self._wake.set()  # a first refresh at once
        self._thread.start()
        return self

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def poke(self) -> None:
        """Ask for a refresh soon; safe from any thread, the hub loop included (never blocks)."""
        self._wake.set()

    def _run(self) -> None:
        if self._async:
            self._loop = asyncio.new_event_loop()
        try:
            self._ticks()
        finally:
            if self._loop is not None:
                self._loop.close()

    def _ticks(self) -> None:
        last = -math.inf
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            if self._stop.is_set():
                break
            wait = last + self._gap - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                break
            self._wake.clear()
            last = time.monotonic()
            if self._hub is not None and self._hub.closed:
                break
            try:
                self._once()
            except asyncio.CancelledError:
                break  # close() cancelled the refresh
            except Exception as exc:  # shown in the widget, never printed
                if self._hub is not None and self._hub.closed:
                    break
                if self._on_error is not None:
                    with contextlib.suppress(Exception):
                        self._on_error(exc)
            self.refreshes += 1

    def _once(self) -> None:
        if self._loop is None:
            self._refresh()
            return
        self._task = self._loop.create_task(self._refresh())
        try:
            self._loop.run_until_complete(self._task)
        finally:
            self._task = None

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it (an in-flight async refresh is cancelled)."""
        self._stop.set()
        self._wake.set()
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(self._cancel)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)


class Actions:
    """Short-lived threads for button actions that may block; ``close()`` stops and joins them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stop = threading.Event()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], None]) -> threading.Thread | None:
        if self.stop.is_set():
            return None

        def target() -> None:
            try:
                fn()
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=target, name=f"{self.name}-action", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return thread

    def close(self, timeout: float = 5.0) -> None:
        self.stop.set()
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))


def subscribe(hub: Any, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """Call ``callback(event)`` on the hub loop for every hub event; returns an unsubscribe function."""
    return hub.on_event(callback)


@contextlib.contextmanager
def held(*widgets: Any) -> Iterator[None]:
    """``hold_sync()`` on several widgets at once: each sends its changed traits as one message."""
    with contextlib.ExitStack() as stack:
        for widget in widgets:
            stack.enter_context(widget.hold_sync())
        yield


def missing(value: Any) -> bool:
    """None or NaN (a DataFrame turns a numeric None into NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))
