"""A tiny in-loop publish/subscribe bus for lifecycle and health events.

Sessions publish ``session_created`` / ``session_destroyed`` / ``session_renamed`` /
``session_tags_changed`` (the wire's ``/ws/json`` events); the federation publishes ``server_health``
(ours) whenever a backend's entry changes.  Subscribers get a bounded queue: a slow consumer (a widget,
a WebSocket client) loses its oldest events rather than growing memory or blocking the publisher.
Everything here runs on the hub's event loop; ``publish`` never awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

Event = dict[str, Any]


class EventBus:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Event]] = set()
        self._callbacks: list[Callable[[Event], None]] = []

    def publish(self, event: str, **params: Any) -> None:
        message: Event = {"event": event, "params": params}
        for queue in self._queues:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)
        for callback in list(self._callbacks):
            callback(message)

    def add_callback(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` on the loop for every event; returns a function that unsubscribes.

        Callbacks must be quick and must not raise; the notebook uses them to hand events to widgets.
        """
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    @contextlib.asynccontextmanager
    async def subscribe(self, maxsize: int = 1000) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
