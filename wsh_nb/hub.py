"""AsyncHub: the one core every face calls (HTTP routes, the notebook facade, widgets).

It owns the local session registry and the federation, and routes each call by the wire rule:
``server`` omitted or equal to our hostname → local; a registered healthy backend → proxied;
unknown → ``ServerNotFound``; known but not healthy → ``ServerUnavailable``.  Listings and the idle race
fan out concurrently; every result is a plain JSON-ready value in wire shape.

All methods must be called on the hub's event loop.  Nothing here prints.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from ._version import __version__
from .errors import IdleTimeout, InvalidRequest, NoSessions, WshError
from .events import EventBus
from .federation import BackendClient, Federation, FederationConfig, HealthSettings
from .sessions import SessionRegistry
from .wire import cap_wait, check_format, is_valid_hostname

CAPABILITIES = ["federation", "idle-race", "partial-listing", "server-reload"]


class SessionListing(NamedTuple):
    sessions: list[dict[str, Any]]  # SessionInfo dicts, each with its "server"
    partial: list[str]  # registered backends left out (unhealthy or failed during the call)


def _system_hostname() -> str:
    name = socket.gethostname().split(".")[0]
    return name if is_valid_hostname(name) else "localhost"


class AsyncHub:
    """Local sessions + federation.  ``async with AsyncHub(...) as hub:`` or ``await hub.start()``.

    Options (all keyword-only):
      hostname       our name in the cluster (default: config ``[server] hostname``, else the system's)
      token          the token *our own server* requires from clients; never sent to backends
      default_token  token for backends registered without one (overrides config ``default_token``)
      config         path of a TOML config file (WIRE.md §4); runtime adds/removes are written back
      max_sessions   local session cap (256)
      ping_interval, pong_timeout, open_timeout, backoff_max: health-loop tuning (0.5, 1.0, 2.0, 1.0 s)
      listing_timeout  how long an aggregated listing waits for one backend before leaving it out (3 s)
    """

    def __init__(
        self,
        *,
        hostname: str | None = None,
        token: str | None = None,
        default_token: str | None = None,
        config: str | None = None,
        max_sessions: int = 256,
        ping_interval: float = 0.5,
        pong_timeout: float = 1.0,
        open_timeout: float = 2.0,
        backoff_max: float = 1.0,
        listing_timeout: float = 3.0,
    ) -> None:
        self.config = FederationConfig.load(config) if config else None
        hostname = hostname or (self.config.hostname if self.config else None) or _system_hostname()
        if not is_valid_hostname(hostname):
            raise InvalidRequest(
                f"invalid hostname {hostname!r}: use dot-separated labels of letters, digits and '-'"
            )
        self.hostname: str = hostname
        self.server_id = str(uuid.uuid4())
        self.version = __version__
        self._token = token
        self._default_token = default_token or (self.config.default_token if self.config else None)
        self._events = EventBus()
        self.sessions = SessionRegistry(events=self._events, max_sessions=max_sessions)
        self.settings = HealthSettings(
            ping_interval=ping_interval,
            pong_timeout=pong_timeout,
            open_timeout=open_timeout,
            backoff_max=backoff_max,
        )
        self.listing_timeout = listing_timeout
        self.federation: Federation | None = None
        self._persistent = True
        self._started = time.monotonic()

    def __repr__(self) -> str:
        return f"<AsyncHub {self.hostname} sessions={len(self.sessions)}>"

    @property
    def token(self) -> str | None:
        """The token our server requires (for the HTTP layer only; never shown, never sent out)."""
        return self._token

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> AsyncHub:
        if self.federation is None:
            self.federation = Federation(
                own_hostname=self.hostname,
                own_server_id=self.server_id,
                events=self._events,
                settings=self.settings,
                default_token=self._default_token,
                ip_access=self.config.ip_access if self.config else None,
                config=self.config,
            )
            await self.federation.start()
        return self

    async def aclose(self) -> None:
        """Stop health loops, close backend clients, kill local sessions."""
        self.sessions.close_all()
        if self.federation is not None:
            await self.federation.aclose()

    async def __aenter__(self) -> AsyncHub:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def _fed(self) -> Federation:
        if self.federation is None:
            raise RuntimeError("AsyncHub.start() has not been awaited")
        return self.federation

    # -- identity -------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "version": self.version,
            "server_id": self.server_id,
            "uptime_s": round(time.monotonic() - self._started, 3),
            "capabilities": CAPABILITIES,
        }

    @property
    def events(self) -> EventBus:
        """Lifecycle (session_*) and ``server_health`` events, for /ws/json and widgets."""
        return self._events

    def _route(self, server: str | None) -> BackendClient | None:
        """None means local (omitted or our own hostname); else the healthy backend's client."""
        if server is None or server == "" or server == self.hostname:
            return None
        return self._fed.route(server)

    # -- federation -----------------------------------------------------------------------------
    def self_entry(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "address": "local",
            "health": "healthy",
            "role": "member",
            "server_id": self.server_id,
            "sessions": len(self.sessions),
            "latency_ms": None,
            "last_seen_ms": None,
            "error": None,
        }

    async def list_servers(self) -> list[dict[str, Any]]:
        return [self.self_entry()] + [e.to_json() for e in self._fed.entries()]

    async def get_server(self, handle: str) -> dict[str, Any]:
        if handle == self.hostname:
            return self.self_entry()
        return self._fed.find(handle).to_json()

    async def add_server(self, address: str, *, token: str | None = None) -> dict[str, Any]:
        entry = await self._fed.add(address, token)
        return {"address": entry.address, "health": entry.health.value}

    async def remove_server(self, handle: str) -> None:
        await self._fed.remove(handle)

    async def reload_config(self) -> dict[str, list[str]]:
        return await self._fed.reload()

    async def wait_healthy(self, *handles: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        entries = await self._fed.wait_healthy(list(handles), timeout)
        return [e.to_json() for e in entries]

    # -- sessions -------------------------------------------------------------------------------
    async def list_sessions(
        self, *, tags: list[str] | None = None, server: str | None = None
    ) -> SessionListing:
        if server:
            client = self._route(server)
            if client is None:
                return SessionListing(self._local_listing(tags), [])
            return SessionListing(await client.list_sessions(tags), [])
        fed = self._fed
        partial = [e.label for e in fed.entries() if e.health.value != "healthy"]
        healthy = fed.healthy()
        results = await asyncio.gather(
            *(e.client.list_sessions(tags, timeout=self.listing_timeout) for e in healthy),
            return_exceptions=True,
        )
        sessions = self._local_listing(tags)
        for entry, result in zip(healthy, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, WshError):  # the client maps timeouts to ServerUnavailable
                    raise result
                partial.append(entry.label)
            else:
                if not tags:
                    entry.sessions = len(result)
                sessions.extend(result)
        return SessionListing(sessions, partial)

    def _local_listing(self, tags: list[str] | None) -> list[dict[str, Any]]:
        return [s.info(self.hostname) for s in self.sessions.list(tags)]

    async def create_session(
        self,
        name: str | None = None,
        *,
        server: str | None = None,
        command: str | None = None,
        rows: int | None = None,
        cols: int | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        client = self._route(server)
        if client is None:
            session = self.sessions.create(
                name, command=command, rows=rows, cols=cols, cwd=cwd, env=env, tags=tags
            )
            return session.info(self.hostname)
        body = {
            "name": name,
            "command": command,
            "rows": rows,
            "cols": cols,
            "cwd": cwd,
            "env": env,
            "tags": tags,
        }
        return await client.create_session({k: v for k, v in body.items() if v is not None})

    async def get_session(self, name: str, *, server: str | None = None) -> dict[str, Any]:
        client = self._route(server)
        if client is None:
            return self.sessions.get(name).info(self.hostname)
        return await client.get_session(name)

    async def update_session(
        self,
        name: str,
        *,
        server: str | None = None,
        new_name: str | None = None,
        add_tags: list[str] | None = None,
        remove_tags: list[str] | None = None,
    ) -> dict[str, Any]:
        client = self._route(server)
        if client is None:
            session = self.sessions.update(
                name, new_name=new_name, add_tags=add_tags, remove_tags=remove_tags
            )
            return session.info(self.hostname)
        body = {"name": new_name, "add_tags": add_tags, "remove_tags": remove_tags}
        return await client.update_session(name, {k: v for k, v in body.items() if v is not None})

    async def kill_session(self, name: str, *, server: str | None = None) -> None:
        client = self._route(server)
        if client is None:
            self.sessions.kill(name)
        else:
            await client.kill_session(name)

    async def send_input(self, name: str, data: bytes, *, server: str | None = None) -> None:
        client = self._route(server)
        if client is None:
            self.sessions.get(name).send(data)
        else:
            await client.send_input(name, data)

    async def screen(self, name: str, *, server: str | None = None, format: str = "styled") -> dict[str, Any]:
        """Screen object (WIRE.md §3) plus ``last_activity_ms``."""
        format = check_format(format)
        client = self._route(server)
        if client is None:
            return self.sessions.get(name).screen_json(format)
        return await client.screen(name, format)

    async def scrollback(
        self,
        name: str,
        *,
        server: str | None = None,
        format: str = "styled",
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        format = check_format(format)
        offset = max(0, offset)
        limit = max(0, min(10_000, limit))
        client = self._route(server)
        if client is None:
            return self.sessions.get(name).screen.scrollback(format, offset, limit)
        return await client.scrollback(name, format, offset, limit)

    async def wait_idle(
        self,
        name: str,
        *,
        server: str | None = None,
        timeout_ms: int,
        max_wait_ms: int = 30000,
        last_generation: int | None = None,
        fresh: bool = False,
        format: str = "styled",
    ) -> dict[str, Any]:
        """``{"screen", "scrollback_lines", "generation", "last_activity_ms"}``; ``IdleTimeout``."""
        format = check_format(format)
        timeout_ms, max_wait_ms = cap_wait(timeout_ms), cap_wait(max_wait_ms, 30000)
        client = self._route(server)
        if client is None:
            session = self.sessions.get(name)
            return await session.wait_idle(
                timeout_ms=timeout_ms,
                max_wait_ms=max_wait_ms,
                last_generation=last_generation,
                fresh=fresh,
                format=format,
            )
        params = _idle_params(timeout_ms, max_wait_ms, last_generation, fresh, format)
        return await client.idle(name, params)

    async def wait_idle_any(
        self,
        *,
        timeout_ms: int,
        max_wait_ms: int = 30000,
        tags: list[str] | None = None,
        last_session: str | None = None,
        last_server: str | None = None,
        last_generation: int | None = None,
        fresh: bool = False,
        format: str = "styled",
        server: str | None = None,
    ) -> dict[str, Any]:
        """Cluster-wide race: ``{"session", "server", "screen", "scrollback_lines", "generation"}``.

        Candidates are every local session (or those with any of ``tags``) and every healthy backend's
        own sessions (its ``GET /idle?server=<its hostname>``); the first to settle wins and the rest are
        cancelled.  ``last_generation`` applies to ``last_session`` on ``last_server`` (omitted: our own
        server) only.  ``server`` (ours) limits the race to that one server.
        """
        format = check_format(format)
        timeout_ms, max_wait_ms = cap_wait(timeout_ms), cap_wait(max_wait_ms, 30000)
        last_is_local = last_server in (None, "", self.hostname)
        racers: list[Callable[[], Awaitable[dict[str, Any]]]] = []
        if server and self._route(server) is not None:
            local_sessions, remotes = [], [self._fed.find(server)]
        else:
            local_sessions = self.sessions.list(tags)
            remotes = [] if server else self._fed.healthy()

        for session in local_sessions:
            gen = last_generation if last_is_local and session.name == last_session else None

            async def local(session=session, gen=gen) -> dict[str, Any]:
                result = await session.wait_idle(
                    timeout_ms=timeout_ms,
                    max_wait_ms=max_wait_ms,
                    last_generation=gen,
                    fresh=fresh,
                    format=format,
                )
                return {
                    "session": session.name,
                    "server": self.hostname,
                    "screen": result["screen"],
                    "scrollback_lines": result["scrollback_lines"],
                    "generation": result["generation"],
                }

            racers.append(local)

        for entry in remotes:
            params = _idle_params(timeout_ms, max_wait_ms, None, fresh, format)
            params["server"] = entry.hostname  # its own sessions only, even if it is a hub itself
            if tags:
                params["tag"] = ",".join(tags)
            if last_session and not last_is_local and last_server == entry.hostname:
                params["last_session"] = last_session
                if last_generation is not None:
                    params["last_generation"] = last_generation
            racers.append(lambda client=entry.client, params=params: client.idle_any(params))

        return await _race(racers, timeout_ms, max_wait_ms)

    async def detach(self, name: str, *, server: str | None = None) -> None:
        client = self._route(server)
        if client is None:
            self.sessions.get(name)
        else:
            await client.detach(name)

    @property
    def persistent(self) -> bool:
        return self._persistent

    def set_persistent(self, value: bool) -> None:
        self._persistent = bool(value)


def _idle_params(
    timeout_ms: int, max_wait_ms: int, last_generation: int | None, fresh: bool, format: str
) -> dict[str, Any]:
    params: dict[str, Any] = {"timeout_ms": timeout_ms, "max_wait_ms": max_wait_ms, "format": format}
    if last_generation is not None:
        params["last_generation"] = last_generation
    if fresh:
        params["fresh"] = "true"
    return params


async def _race(
    racers: list[Callable[[], Awaitable[dict[str, Any]]]], timeout_ms: int, max_wait_ms: int
) -> dict[str, Any]:
    """First racer to return wins; the others are cancelled.

    A racer that fails (a backend with no candidates, one that drops out) just leaves the race; when
    all have failed the answer is ``NoSessions`` if nobody had a candidate, else ``IdleTimeout``.
    """
    if not racers:
        raise NoSessions("no sessions to wait on; create one first (or check the tag)")
    tasks = {asyncio.ensure_future(r()) for r in racers}
    timed_out = False
    dropped: WshError | None = None
    try:
        while tasks:
            done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if exc is None:
                    return task.result()
                if not isinstance(exc, WshError):
                    raise exc
                if isinstance(exc, IdleTimeout):
                    timed_out = True
                elif not isinstance(exc, NoSessions):
                    dropped = dropped or exc
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
    if not timed_out:
        if dropped is not None:
            raise dropped
        raise NoSessions("no sessions to wait on; create one first (or check the tag)")
    raise IdleTimeout(
        f"no session was idle for {timeout_ms} ms within {max_wait_ms} ms; "
        "raise max_wait_ms or lower timeout_ms"
    )
