"""The health loop: one asyncio task per backend, never blocking the others (WIRE.md §4).

The signal is a WebSocket to ``<address>/ws/json`` (connected = alive, dropped = unavailable) plus our own
ping loop with a pong deadline, because a frozen backend keeps its TCP connection open and says nothing.
After each connect ``GET /server/info`` gives the identity: our own ``server_id`` (a self-loop), or a
hostname that is invalid, ours, or another entry's, turns the entry ``rejected`` for good (remove it, fix
the backend, add it again); otherwise it is ``healthy`` with the learned hostname.  A drop is followed by
reconnects with jittered exponential backoff, ``ip_access`` re-checked before each one (DNS rebinding).

``sessions`` is kept fresh cheaply: one ``GET /sessions`` after connecting, then the ``session_created`` /
``session_destroyed`` events of ``/ws/json``; the hub's own listings may also set it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from .._version import __version__
from ..errors import BadGateway, WshError
from ..wire import loads

if TYPE_CHECKING:
    from .registry import BackendEntry, Federation


class Health(str, enum.Enum):
    CONNECTING = "connecting"  # registered; first contact under way
    HEALTHY = "healthy"  # health channel up, identity accepted; takes part in routing and listings
    UNAVAILABLE = "unavailable"  # channel lost or cannot be opened; reconnecting with backoff
    REJECTED = "rejected"  # identity refused (self-loop, hostname clash or invalid); never retried


@dataclass(frozen=True)
class HealthSettings:
    """Health-loop and client tuning, in seconds; the defaults meet the loopback targets of WIRE.md §4."""

    ping_interval: float = 0.5
    pong_timeout: float = 1.0
    open_timeout: float = 2.0
    backoff_initial: float = 0.1
    backoff_max: float = 1.0
    connect_timeout: float = 5.0
    request_timeout: float = 30.0


class _Lost(Exception):
    """The health channel failed; the message says how (it becomes the entry's ``error``)."""


def ws_url(address: str) -> str:
    scheme, rest = address.split("://", 1)
    return ("wss" if scheme == "https" else "ws") + "://" + rest + "/ws/json"


class Monitor:
    """Watches one entry; ``start()`` spawns the task, ``await stop()`` cancels it and waits."""

    def __init__(self, entry: BackendEntry, owner: Federation) -> None:
        self.entry = entry
        self.owner = owner
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"wsh-monitor {self.entry.address}"
        )

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- state changes ------------------------------------------------------------------------------
    def _update(self, **fields: Any) -> None:
        entry = self.entry
        for key, value in fields.items():
            setattr(entry, key, value)
        if "hostname" in fields:
            entry.client.hostname = fields["hostname"]
        self.owner._changed(entry)

    def _unavailable(self, error: str) -> None:
        self._update(health=Health.UNAVAILABLE, error=error, latency_ms=None)

    # -- the loop -----------------------------------------------------------------------------------
    async def _run(self) -> None:
        settings = self.owner.settings
        backoff = settings.backoff_initial
        while True:
            was_healthy = False
            try:
                was_healthy = await self._connect_once()
            except _Lost as exc:
                self._unavailable(str(exc))
            except WshError as exc:  # ip_access refusal, unreachable during identity, ...
                self._unavailable(exc.message)
            except Exception as exc:  # never let one backend's surprise kill its monitor silently
                self._unavailable(f"health check failed: {type(exc).__name__}: {exc}")
            if self.entry.health is Health.REJECTED:
                return
            if was_healthy:
                backoff = settings.backoff_initial
            await asyncio.sleep(random.uniform(backoff / 2, backoff))
            backoff = min(backoff * 2, settings.backoff_max)

    async def _open(self) -> ClientConnection:
        settings = self.owner.settings
        try:
            return await connect(
                ws_url(self.entry.address),
                additional_headers=self.entry.client.auth_headers,
                proxy=None,
                open_timeout=settings.open_timeout,
                close_timeout=0.2,
                ping_interval=None,  # our own ping loop has the deadline
                ping_timeout=None,
                max_size=1 << 20,
                compression=None,
                user_agent_header=f"wsh-nb/{__version__}",
            )
        except TimeoutError:
            raise _Lost(
                f"the health WebSocket did not open within {settings.open_timeout} s "
                "(backend frozen, overloaded, or not a wsh server)"
            ) from None
        except websockets.exceptions.InvalidStatus as exc:
            code = exc.response.status_code
            hint = {401: ": the backend needs a token", 403: ": the backend refused our token"}.get(code, "")
            raise _Lost(f"the health WebSocket was refused with HTTP {code}{hint}") from None
        except OSError as exc:
            raise _Lost(f"cannot connect: {exc.strerror or exc}") from None
        except websockets.exceptions.WebSocketException as exc:
            raise _Lost(f"the health WebSocket failed: {exc}") from None

    async def _connect_once(self) -> bool:
        """One connection's life; returns True if it reached ``healthy`` before it ended."""
        owner, entry = self.owner, self.entry
        settings = owner.settings
        if owner.ip_access is not None:
            await owner.ip_access.check(entry.address)
        ws = await self._open()
        tasks: list[asyncio.Task[Any]] = []
        try:
            try:
                info = await asyncio.wait_for(entry.client.info(), settings.open_timeout)
            except TimeoutError:
                raise _Lost(f"GET /server/info did not answer within {settings.open_timeout} s") from None
            except BadGateway as exc:
                self._update(health=Health.REJECTED, hostname=None, error=exc.message, latency_ms=None)
                return False
            # No await between the identity check and taking the hostname: no two entries can race.
            problem = owner._identity_problem(entry, info)
            if problem is not None:
                self._update(
                    health=Health.REJECTED,
                    hostname=None,
                    server_id=info["server_id"],
                    error=problem,
                    latency_ms=None,
                )
                return False
            self._update(
                health=Health.HEALTHY,
                hostname=info["hostname"],
                server_id=info["server_id"],
                error=None,
                last_seen=time.monotonic(),
            )
            loop = asyncio.get_running_loop()
            reader = loop.create_task(self._reader(ws))
            pinger = loop.create_task(self._pinger(ws))
            tasks = [reader, pinger, loop.create_task(self._count())]
            done, _ = await asyncio.wait((reader, pinger), return_when=asyncio.FIRST_COMPLETED)
            exc = next(iter(done)).exception()
            self._unavailable(str(exc) if isinstance(exc, _Lost) else f"health channel failed: {exc!r}")
            return True
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if entry.health is not Health.HEALTHY:  # lost: do not wait for a closing handshake
                ws.transport.abort()
            with contextlib.suppress(Exception):
                await ws.close()

    async def _reader(self, ws: ClientConnection) -> None:
        entry = self.entry
        try:
            async for message in ws:
                entry.last_seen = time.monotonic()
                try:
                    event = loads(message)
                except ValueError:
                    continue
                if not isinstance(event, dict) or entry.sessions is None:
                    continue
                kind = event.get("event")
                if kind == "session_created":
                    entry.sessions = entry.sessions + 1
                elif kind == "session_destroyed":
                    entry.sessions = max(0, entry.sessions - 1)
        except websockets.exceptions.ConnectionClosed as exc:
            raise _Lost(f"the backend closed the health channel ({_close_reason(exc)})") from None
        raise _Lost("the backend closed the health channel")

    async def _pinger(self, ws: ClientConnection) -> None:
        settings, entry = self.owner.settings, self.entry
        while True:
            await asyncio.sleep(settings.ping_interval)
            start = time.monotonic()
            try:
                waiter = await asyncio.wait_for(ws.ping(), settings.pong_timeout)
                left = max(0.0, settings.pong_timeout - (time.monotonic() - start))
                await asyncio.wait_for(waiter, left)
            except TimeoutError:
                raise _Lost(
                    f"no pong within {settings.pong_timeout} s (backend frozen or network down)"
                ) from None
            except websockets.exceptions.ConnectionClosed as exc:
                raise _Lost(f"the backend closed the health channel ({_close_reason(exc)})") from None
            now = time.monotonic()
            entry.latency_ms = round((now - start) * 1000, 3)
            entry.last_seen = now

    async def _count(self) -> None:
        try:
            sessions = await self.entry.client.list_sessions(timeout=self.owner.settings.request_timeout)
        except WshError:
            return  # a broken listing is already on the entry's error (BadGateway)
        self.entry.sessions = len(sessions)


def _close_reason(exc: websockets.exceptions.ConnectionClosed) -> str:
    if exc.rcvd is None:
        return "connection dropped"
    return f"close code {exc.rcvd.code}"
