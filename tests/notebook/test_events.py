"""``Hub.on_event``: hub events pushed to the caller (what widgets and live updates build on)."""

from __future__ import annotations

import queue
import threading

from tests.helpers import wait_for


def test_health_and_session_events_reach_the_callback_on_the_hub_thread(hub, server):
    seen: queue.Queue = queue.Queue()
    threads: set[str] = set()

    def callback(event):
        threads.add(threading.current_thread().name)
        seen.put(event)

    unsubscribe = hub.on_event(callback)
    hub.add_server(server.url)
    hub.wait_healthy("solo", timeout=10)
    hub.create_session("local-one", command="cat")
    events = []
    wait_for(
        lambda: events.extend(_drain(seen)) or any(e["event"] == "session_created" for e in events),
        message="session_created event",
    )
    health = [e["params"] for e in events if e["event"] == "server_health"]
    assert any(p["hostname"] == "solo" and p["health"] == "healthy" for p in health)
    assert threading.current_thread().name not in threads  # delivered on the hub's own thread

    unsubscribe()
    hub.create_session("local-two", command="cat")
    hub.kill("local-two")
    hub.sessions()  # a round trip through the hub loop: anything published before it has been delivered
    assert not any(
        e["event"] == "session_created" and e["params"]["name"] == "local-two" for e in _drain(seen)
    )
    unsubscribe()  # idempotent


def _drain(q: queue.Queue) -> list:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out
