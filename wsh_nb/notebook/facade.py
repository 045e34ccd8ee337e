"""The notebook's hub: ``Hub`` (sync) and its ``a*`` twins, ``Session`` handles, ``get_hub()``.

An ``AsyncHub`` runs on its own loop in a ``LoopThread``; the loop-side half of the facade, ``_Core``, sits
next to it and adds what a person at a notebook needs on top of the wire: **placement memory** (the hub
remembers on which server it created each session, so ``hub.send("build", …)`` routes without naming the
server) and friendly error hints.  ``_Core``'s state is touched only on the hub loop, which is what makes
``Hub`` safe to call from any thread: every call is a message to that loop.

Every ``Hub`` method is a call through the loop thread: ``hub.send(...)`` blocks (Ctrl-C cancels the work on
the hub), ``await hub.asend(...)`` awaits it from the kernel's own loop (top-level ``await``; cancelling the
awaiting task cancels the work).  Results are built in the caller's thread: ``Session`` handles,
``ScreenView`` objects, DataFrames (``frames``).

Name resolution (everywhere a session name is taken):
  * ``server=`` given, or ``"name@server"`` → that server (``server=`` and ``@server`` must agree);
  * a name the hub placed on exactly one server → that server;
  * a name the hub placed on several servers → ``AmbiguousSession`` listing them, never a guess;
  * otherwise → the hub's own server (the wire rule), where an unknown name is ``SessionNotFound``.
Placements are forgotten when the session is killed through the hub, when a local session ends
(``session_destroyed``), when a call finds it gone (``SessionNotFound`` from its server), when it is renamed
(moved to the new name), and when its server is removed.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import types
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

import pandas as pd

from ..errors import AmbiguousSession, InvalidRequest, SessionNotFound
from ..hub import AsyncHub, SessionListing
from . import frames
from .display import ScreenView, ScrollbackView
from .loop import LoopThread

T = TypeVar("T")
Tags = str | list[str] | tuple[str, ...] | None


class IdleResult(NamedTuple):
    """What an idle wait returns; pass it back as ``last=`` to get the *next* session to settle."""

    session: str  # the session's name
    server: str  # hostname of the server it lives on
    generation: int  # its activity generation when idle was confirmed
    screen: ScreenView


def _tags(tag: Tags) -> list[str] | None:
    if tag is None:
        return None
    return [tag] if isinstance(tag, str) else list(tag)


def _bytes(data: str | bytes) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise InvalidRequest(f"send() takes str or bytes, not {type(data).__name__}")


def _split(name: str, server: str | None) -> tuple[str, str | None]:
    """``"build@build-1"`` → ``("build", "build-1")``; session names never contain ``@``."""
    if not isinstance(name, str):
        raise InvalidRequest(f"a session name is a str, not {type(name).__name__}")
    if "@" in name:
        name, _, at = name.rpartition("@")
        if server is not None and server != at:
            raise InvalidRequest(
                f"{name}@{at} names server {at!r} but server={server!r} was given; use one of them"
            )
        server = at
    return name, server or None


def _parse_bind(serve: str) -> tuple[str, int]:
    host, sep, port = serve.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidRequest(f"serve={serve!r}: write host:port, e.g. serve='127.0.0.1:0'")
    return host.strip("[]") or "127.0.0.1", int(port)


class _Core:
    """The loop-side half of ``Hub``: the AsyncHub plus placement memory.  Only used on the hub loop."""

    def __init__(self, hub: AsyncHub) -> None:
        self.hub = hub
        self.placements: dict[str, set[str]] = {}
        self.running: Any = None  # the RunningServer when serve= was given
        self._unsubscribe = hub.events.add_callback(self._on_event)

    @classmethod
    async def start(cls, options: dict[str, Any], serve: str | None) -> _Core:
        hub = AsyncHub(**options)
        try:
            await hub.start()
            core = cls(hub)
            if serve is not None:
                from ..server.runner import serve_hub  # lazily: the server layer is optional here

                host, port = _parse_bind(serve)
                core.running = await serve_hub(hub, host, port)
        except BaseException:
            await hub.aclose()
            raise
        return core

    async def aclose(self) -> None:
        self._unsubscribe()
        try:
            if self.running is not None:
                await self.running.aclose()
        finally:
            await self.hub.aclose()

    @property
    def hostname(self) -> str:
        return self.hub.hostname

    @property
    def url(self) -> str | None:
        return self.running.url if self.running is not None else None

    # -- placement memory -----------------------------------------------------------------------
    def _place(self, name: str, server: str) -> None:
        self.placements.setdefault(name, set()).add(server)

    def _forget(self, name: str, server: str) -> None:
        servers = self.placements.get(name)
        if servers is not None:
            servers.discard(server)
            if not servers:
                del self.placements[name]

    def _on_event(self, event: dict[str, Any]) -> None:
        kind, params = event.get("event"), event.get("params") or {}
        server = params.get("server") or self.hostname  # the registry's own events carry no server
        if kind == "session_destroyed":
            self._forget(params.get("name", ""), server)
        elif kind == "session_renamed":
            old, new = params.get("old_name", ""), params.get("new_name", "")
            if server in self.placements.get(old, ()):
                self._forget(old, server)
                self._place(new, server)

    def _target(self, name: str, server: str | None) -> tuple[str, str | None, bool]:
        """(name, server or None for local, whether the hub placed it) — see the module docstring."""
        name, server = _split(name, server)
        if server is not None:
            return name, server, True
        placed = self.placements.get(name)
        if not placed:
            return name, None, False
        if len(placed) > 1:
            where = sorted(placed)
            raise AmbiguousSession(
                f"the hub placed a session named {name!r} on {', '.join(where)}; say which one, e.g. "
                f"server={where[0]!r} or {name + '@' + where[0]!r}"
            )
        return name, next(iter(placed)), True

    async def _routed(
        self, name: str, server: str | None, op: Callable[[str, str | None], Awaitable[T]]
    ) -> T:
        name, target, placed = self._target(name, server)
        try:
            return await op(name, target)
        except SessionNotFound as exc:
            self._forget(name, target or self.hostname)
            if placed:
                raise
            raise SessionNotFound(
                f"{exc.message} (looked on the hub's own server {self.hostname!r}: the hub placed no "
                f"session named {name!r}; for one it did not create, name its server: server='HOST' "
                f"or '{name}@HOST'; hub.sessions() lists them all)",
                server=exc.server,
            ) from None

    # -- servers --------------------------------------------------------------------------------
    async def remove_server(self, handle: str) -> None:
        entry = await self.hub.get_server(handle)
        await self.hub.remove_server(handle)
        hostname = entry.get("hostname")
        if hostname:
            for name in [n for n, where in self.placements.items() if hostname in where]:
                self._forget(name, hostname)

    # -- sessions -------------------------------------------------------------------------------
    async def create_session(self, name: str | None, **options: Any) -> dict[str, Any]:
        if name is not None:
            name, options["server"] = _split(name, options.get("server"))
        info = await self.hub.create_session(name, **options)
        self._place(info["name"], info.get("server") or self.hostname)
        return info

    async def get_session(self, name: str, server: str | None) -> dict[str, Any]:
        return await self._routed(name, server, lambda n, s: self.hub.get_session(n, server=s))

    async def update_session(self, name: str, server: str | None, **changes: Any) -> dict[str, Any]:
        async def op(n: str, s: str | None) -> dict[str, Any]:
            info = await self.hub.update_session(n, server=s, **changes)
            where = info.get("server") or self.hostname
            if info["name"] != n and where in self.placements.get(n, ()):
                self._forget(n, where)
                self._place(info["name"], where)
            return info

        return await self._routed(name, server, op)

    async def kill_session(self, name: str, server: str | None) -> None:
        async def op(n: str, s: str | None) -> None:
            await self.hub.kill_session(n, server=s)
            self._forget(n, s or self.hostname)

        await self._routed(name, server, op)

    async def send_input(self, name: str, data: bytes, server: str | None) -> None:
        await self._routed(name, server, lambda n, s: self.hub.send_input(n, data, server=s))

    async def screen(self, name: str, server: str | None, format: str) -> dict[str, Any]:
        return await self._routed(name, server, lambda n, s: self.hub.screen(n, server=s, format=format))

    async def scrollback(self, name: str, server: str | None, **page: Any) -> dict[str, Any]:
        return await self._routed(name, server, lambda n, s: self.hub.scrollback(n, server=s, **page))

    async def wait_idle(self, name: str, server: str | None, **wait: Any) -> dict[str, Any]:
        async def op(n: str, s: str | None) -> dict[str, Any]:
            result = await self.hub.wait_idle(n, server=s, **wait)
            return {**result, "session": n, "server": s or self.hostname}

        return await self._routed(name, server, op)


def _idle_result(result: dict[str, Any]) -> IdleResult:
    return IdleResult(result["session"], result["server"], result["generation"], ScreenView(result["screen"]))


def _last(last: IdleResult | None) -> dict[str, Any]:
    if last is None:
        return {}
    return {"last_session": last.session, "last_server": last.server, "last_generation": last.generation}


class Hub:
    """A wsh hub inside this Python process (a notebook kernel): local PTY sessions plus backends.

    ``Hub()`` starts the hub's loop thread and builds the ``AsyncHub`` on it (a failure re-raises here);
    ``hub.close()`` — or leaving ``with Hub() as hub:`` — stops it: the loop's tasks are cancelled, local
    sessions killed, backend clients closed, the thread joined.  Interpreter exit closes a hub left open.
    Most notebooks want the kernel's one shared hub: ``wsh_nb.get_hub()``.

    Every method has an async twin named ``a<method>`` (``aservers``, ``acreate_session``, ``asend``,
    ``await_idle``, …) for top-level ``await`` in a kernel; the sync methods may be called from any thread.

    Options (keyword-only): ``hostname`` (our name in the cluster), ``token`` (what *our* server requires
    of its clients, only used with ``serve=``; never sent to backends, never shown), ``default_token``
    (for backends added without one), ``config`` (a TOML file, WIRE.md §4), ``serve`` (``"host:port"``:
    also expose this hub over the wire protocol at ``hub.url``), ``max_sessions`` and the health-loop
    tuning ``ping_interval``, ``pong_timeout``, ``open_timeout``, ``backoff_max``, ``listing_timeout``.
    """

    def __init__(
        self,
        *,
        hostname: str | None = None,
        token: str | None = None,
        default_token: str | None = None,
        config: str | None = None,
        serve: str | None = None,
        max_sessions: int = 256,
        ping_interval: float = 0.5,
        pong_timeout: float = 1.0,
        open_timeout: float = 2.0,
        backoff_max: float = 1.0,
        listing_timeout: float = 3.0,
    ) -> None:
        options = {
            "hostname": hostname, "token": token, "default_token": default_token, "config": config,
            "max_sessions": max_sessions, "ping_interval": ping_interval, "pong_timeout": pong_timeout,
            "open_timeout": open_timeout, "backoff_max": backoff_max, "listing_timeout": listing_timeout,
        }  # fmt: skip
        self._loop = LoopThread("wsh-hub")
        try:
            self._core: _Core = self._loop.call(_Core.start, options, serve)
        except BaseException:
            self._loop.close()
            raise
        self._loop.on_close(self._core.aclose)
        self.hostname: str = self._core.hostname
        self.url: str | None = self._core.url

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running"
        served = f" url={self.url}" if self.url else ""
        return f"<Hub {self.hostname}{served} {state}>"

    def _run(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        return self._loop.call(fn, *args, **kwargs)

    async def _arun(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        return await self._loop.acall(fn, *args, **kwargs)

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._loop.closed

    def close(self) -> None:
        """Stop the hub: cancel its tasks, kill local sessions, close backend clients, join the thread."""
        self._loop.close()

    async def aclose(self) -> None:
        await self._loop.aclose()

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Hub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _info(self) -> dict[str, Any]:
        return self._core.hub.info()

    def info(self) -> dict[str, Any]:
        """``{"hostname", "version", "server_id", "uptime_s", "capabilities"}`` of this hub."""
        return self._run(self._info)

    async def ainfo(self) -> dict[str, Any]:
        return await self._arun(self._info)

    # -- events ---------------------------------------------------------------------------------
    def on_event(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every hub event; returns a function that unsubscribes.

        Events are ``{"event", "params"}``: ``server_health`` (params: the server entry),
        ``server_removed`` and the session lifecycle events.  The callback runs ON THE HUB THREAD, so it
        must be quick and must not call back into this hub synchronously: hand the event to your own
        thread or loop (widgets set a ``threading.Event``).
        """
        events = self._core.hub.events

        async def add() -> Callable[[], None]:
            return events.add_callback(callback)

        remove = self._run(add)

        def unsubscribe() -> None:
            if self.closed:
                return

            async def drop() -> None:
                remove()

            with contextlib.suppress(RuntimeError):  # closed meanwhile: the bus went with it
                self._run(drop)

        return unsubscribe

    # -- servers --------------------------------------------------------------------------------
    def add_server(self, address: str, *, token: str | None = None) -> dict[str, Any]:
        """Register a backend (``http://host:port``); returns ``{"address", "health": "connecting"}`` at once.

        Follow with ``hub.wait_healthy()`` before creating sessions on it.  The token is kept by the hub
        and never shown.
        """
        return self._run(self._core.hub.add_server, address, token=token)

    async def aadd_server(self, address: str, *, token: str | None = None) -> dict[str, Any]:
        return await self._arun(self._core.hub.add_server, address, token=token)

    def remove_server(self, handle: str) -> None:
        """Deregister a backend by hostname or address; its sessions keep running on it."""
        return self._run(self._core.remove_server, handle)

    async def aremove_server(self, handle: str) -> None:
        return await self._arun(self._core.remove_server, handle)

    def server(self, handle: str) -> dict[str, Any]:
        """One server's entry (by hostname or address; the hub's own hostname → its self entry)."""
        return self._run(self._core.hub.get_server, handle)

    async def aserver(self, handle: str) -> dict[str, Any]:
        return await self._arun(self._core.hub.get_server, handle)

    def servers(self) -> pd.DataFrame:
        """DataFrame, self first: hostname, address, health, role, server_id, sessions, latency_ms,
        last_seen_ms, error."""
        return frames.servers_frame(self._run(self._core.hub.list_servers))

    async def aservers(self) -> pd.DataFrame:
        return frames.servers_frame(await self._arun(self._core.hub.list_servers))

    def wait_healthy(self, *handles: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until the named backends (none named: all registered) are healthy; returns their entries.

        Raises ``HealthTimeout`` (a ``TimeoutError``) naming the laggards.
        """
        return self._run(self._core.hub.wait_healthy, *handles, timeout=timeout)

    async def await_healthy(self, *handles: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        return await self._arun(self._core.hub.wait_healthy, *handles, timeout=timeout)

    # -- sessions -------------------------------------------------------------------------------
    def create_session(
        self,
        name: str | None = None,
        *,
        server: str | None = None,
        tags: list[str] | None = None,
        command: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        rows: int | None = None,
        cols: int | None = None,
    ) -> Session:
        """Create a session on ``server`` (omitted: this hub's machine) and remember where it lives.

        ``command`` runs via ``/bin/sh -c``; without one the user's shell starts.  Omitted name → "0", "1"….
        """
        info = self._run(
            self._core.create_session,
            name,
            server=server,
            tags=tags,
            command=command,
            cwd=cwd,
            env=env,
            rows=rows,
            cols=cols,
        )
        return Session(self, info["name"], info["server"])

    async def acreate_session(
        self,
        name: str | None = None,
        *,
        server: str | None = None,
        tags: list[str] | None = None,
        command: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        rows: int | None = None,
        cols: int | None = None,
    ) -> Session:
        info = await self._arun(
            self._core.create_session,
            name,
            server=server,
            tags=tags,
            command=command,
            cwd=cwd,
            env=env,
            rows=rows,
            cols=cols,
        )
        return Session(self, info["name"], info["server"])

    def sessions(self, *, tag: Tags = None, server: str | None = None) -> pd.DataFrame:
        """DataFrame: server, name, pid, command, rows, cols, clients, tags, last_activity_ms.

        ``tag``: one tag or a list (any of them).  Without ``server``, every healthy backend is listed
        concurrently; ``.attrs["partial"]`` names every registered server left out.
        """
        listing: SessionListing = self._run(self._core.hub.list_sessions, tags=_tags(tag), server=server)
        return frames.sessions_frame(listing.sessions, listing.partial)

    async def asessions(self, *, tag: Tags = None, server: str | None = None) -> pd.DataFrame:
        listing = await self._arun(self._core.hub.list_sessions, tags=_tags(tag), server=server)
        return frames.sessions_frame(listing.sessions, listing.partial)

    def session(self, name: str, *, server: str | None = None) -> Session:
        """The ``Session`` named ``name`` (``"name@server"`` works), wherever the hub placed it."""
        info = self._run(self._core.get_session, name, server)
        return Session(self, info["name"], info["server"])

    async def asession(self, name: str, *, server: str | None = None) -> Session:
        info = await self._arun(self._core.get_session, name, server)
        return Session(self, info["name"], info["server"])

    def send(self, name: str, data: str | bytes, *, server: str | None = None) -> None:
        """Send input (``str`` is encoded as UTF-8) to a session, verbatim: include ``"\\n"`` to submit."""
        return self._run(self._core.send_input, name, _bytes(data), server)

    async def asend(self, name: str, data: str | bytes, *, server: str | None = None) -> None:
        return await self._arun(self._core.send_input, name, _bytes(data), server)

    def screen(self, name: str, *, server: str | None = None, format: str = "styled") -> ScreenView:
        """The session's visible screen (``format``: "styled" or "plain")."""
        return ScreenView(self._run(self._core.screen, name, server, format))

    async def ascreen(self, name: str, *, server: str | None = None, format: str = "styled") -> ScreenView:
        return ScreenView(await self._arun(self._core.screen, name, server, format))

    def scrollback(
        self,
        name: str,
        *,
        server: str | None = None,
        format: str = "styled",
        offset: int = 0,
        limit: int = 100,
    ) -> ScrollbackView:
        """``limit`` lines of the session's history from ``offset`` (0: the oldest kept line)."""
        return ScrollbackView(
            self._run(self._core.scrollback, name, server, format=format, offset=offset, limit=limit)
        )

    async def ascrollback(
        self,
        name: str,
        *,
        server: str | None = None,
        format: str = "styled",
        offset: int = 0,
        limit: int = 100,
    ) -> ScrollbackView:
        return ScrollbackView(
            await self._arun(self._core.scrollback, name, server, format=format, offset=offset, limit=limit)
        )

    def kill(self, name: str, *, server: str | None = None) -> None:
        """Kill a session (SIGKILL to its process group) and forget its placement."""
        return self._run(self._core.kill_session, name, server)

    async def akill(self, name: str, *, server: str | None = None) -> None:
        return await self._arun(self._core.kill_session, name, server)

    def rename(self, name: str, new_name: str, *, server: str | None = None) -> dict[str, Any]:
        """Rename a session (placement memory follows); returns its new info."""
        return self._run(self._core.update_session, name, server, new_name=new_name)

    async def arename(self, name: str, new_name: str, *, server: str | None = None) -> dict[str, Any]:
        return await self._arun(self._core.update_session, name, server, new_name=new_name)

    def tag(self, name: str, *tags: str, server: str | None = None) -> dict[str, Any]:
        """Add tags to a session; returns its info."""
        return self._run(self._core.update_session, name, server, add_tags=list(tags))

    async def atag(self, name: str, *tags: str, server: str | None = None) -> dict[str, Any]:
        return await self._arun(self._core.update_session, name, server, add_tags=list(tags))

    def untag(self, name: str, *tags: str, server: str | None = None) -> dict[str, Any]:
        """Remove tags from a session; returns its info."""
        return self._run(self._core.update_session, name, server, remove_tags=list(tags))

    async def auntag(self, name: str, *tags: str, server: str | None = None) -> dict[str, Any]:
        return await self._arun(self._core.update_session, name, server, remove_tags=list(tags))

    def wait_idle(
        self,
        name: str | None = None,
        *,
        tag: Tags = None,
        server: str | None = None,
        timeout_ms: int = 500,
        max_wait_ms: int = 30000,
        last: IdleResult | None = None,
        fresh: bool = False,
    ) -> IdleResult:
        """Wait until a session has been quiet for ``timeout_ms``; ``IdleTimeout`` after ``max_wait_ms``.

        Without ``name``: a race over every session of the cluster (or those with any of ``tag``); the
        first to settle wins.  Pass the previous result as ``last=`` so that session must show new activity
        before it can win again — iterate to collect every session of a fan-out.  With ``name``: wait on
        that one session (``last=`` then applies only if it names the same session).  ``fresh=True``
        always observes ``timeout_ms`` of real silence after the call.
        """
        return _idle_result(
            self._run(self._wait_idle, name, tag, server, timeout_ms, max_wait_ms, last, fresh)
        )

    async def await_idle(
        self,
        name: str | None = None,
        *,
        tag: Tags = None,
        server: str | None = None,
        timeout_ms: int = 500,
        max_wait_ms: int = 30000,
        last: IdleResult | None = None,
        fresh: bool = False,
    ) -> IdleResult:
        return _idle_result(
            await self._arun(self._wait_idle, name, tag, server, timeout_ms, max_wait_ms, last, fresh)
        )

    async def _wait_idle(
        self,
        name: str | None,
        tag: Tags,
        server: str | None,
        timeout_ms: int,
        max_wait_ms: int,
        last: IdleResult | None,
        fresh: bool,
    ) -> dict[str, Any]:
        wait = {"timeout_ms": timeout_ms, "max_wait_ms": max_wait_ms, "fresh": fresh}
        if name is None:
            if server is not None:
                raise InvalidRequest("server= needs a session name; a race without one spans the cluster")
            return await self._core.hub.wait_idle_any(tags=_tags(tag), **wait, **_last(last))
        if tag is not None:
            raise InvalidRequest("tag= selects the sessions of a race; drop it when naming a session")
        if last is not None:
            name, server = _split(name, server)
            if last.session == name and (server is None or server == last.server):
                wait["last_generation"], server = last.generation, last.server
        return await self._core.wait_idle(name, server, **wait)


class Session:
    """A handle on one session: ``.name``, ``.server`` (its server's hostname) and the calls on it.

    Every call names the server explicitly, so a handle keeps working whatever else the hub places.
    ``wait_idle()`` returns at once when the session is already quiet; ``wait_idle(after_last=True)``
    first waits for activity newer than the generation this handle last saw idle (the way to avoid
    busy loops when polling), and ``last_generation=`` passes one explicitly.
    """

    def __init__(self, hub: Hub, name: str, server: str) -> None:
        self.hub = hub
        self.name = name
        self.server = server
        self.last_generation: int | None = None  # of the last idle wait through this handle

    def __repr__(self) -> str:
        return f"<Session {self.server}/{self.name}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Session):
            return NotImplemented
        return (other.hub, other.server, other.name) == (self.hub, self.server, self.name)

    __hash__ = None  # type: ignore[assignment]  # a rename changes the identity

    def send(self, data: str | bytes) -> None:
        """Send input (``str`` is encoded as UTF-8), verbatim: include ``"\\n"`` to submit a line."""
        self.hub.send(self.name, data, server=self.server)

    async def asend(self, data: str | bytes) -> None:
        await self.hub.asend(self.name, data, server=self.server)

    def _idle_last(self, after_last: bool, last_generation: int | None) -> IdleResult | None:
        gen = (
            last_generation if last_generation is not None else (self.last_generation if after_last else None)
        )
        return None if gen is None else IdleResult(self.name, self.server, gen, ScreenView({}))

    def _remember(self, result: IdleResult) -> IdleResult:
        self.last_generation = result.generation
        return result

    def wait_idle(
        self,
        timeout_ms: int = 500,
        max_wait_ms: int = 30000,
        *,
        fresh: bool = False,
        after_last: bool = False,
        last_generation: int | None = None,
    ) -> IdleResult:
        """Wait until quiet for ``timeout_ms`` (at once if already quiet); ``IdleTimeout`` after
        ``max_wait_ms``.  Returns an ``IdleResult``; its generation is remembered for ``after_last``."""
        last = self._idle_last(after_last, last_generation)
        return self._remember(
            self.hub.wait_idle(
                self.name,
                server=self.server,
                timeout_ms=timeout_ms,
                max_wait_ms=max_wait_ms,
                fresh=fresh,
                last=last,
            )
        )

    async def await_idle(
        self,
        timeout_ms: int = 500,
        max_wait_ms: int = 30000,
        *,
        fresh: bool = False,
        after_last: bool = False,
        last_generation: int | None = None,
    ) -> IdleResult:
        last = self._idle_last(after_last, last_generation)
        return self._remember(
            await self.hub.await_idle(
                self.name,
                server=self.server,
                timeout_ms=timeout_ms,
                max_wait_ms=max_wait_ms,
                fresh=fresh,
                last=last,
            )
        )

    def screen(self, format: str = "styled") -> ScreenView:
        """The visible screen (``format``: "styled" or "plain")."""
        return self.hub.screen(self.name, server=self.server, format=format)

    async def ascreen(self, format: str = "styled") -> ScreenView:
        return await self.hub.ascreen(self.name, server=self.server, format=format)

    def scrollback(self, format: str = "styled", *, offset: int = 0, limit: int = 100) -> ScrollbackView:
        """``limit`` lines of history from ``offset``."""
        return self.hub.scrollback(self.name, server=self.server, format=format, offset=offset, limit=limit)

    async def ascrollback(
        self, format: str = "styled", *, offset: int = 0, limit: int = 100
    ) -> ScrollbackView:
        return await self.hub.ascrollback(
            self.name, server=self.server, format=format, offset=offset, limit=limit
        )

    def kill(self) -> None:
        """Kill the session."""
        self.hub.kill(self.name, server=self.server)

    async def akill(self) -> None:
        await self.hub.akill(self.name, server=self.server)

    def info(self) -> dict[str, Any]:
        """SessionInfo: name, server, pid, command, rows, cols, clients, tags, last_activity_ms."""
        return self.hub._run(self.hub._core.get_session, self.name, self.server)

    async def ainfo(self) -> dict[str, Any]:
        return await self.hub._arun(self.hub._core.get_session, self.name, self.server)

    def tag(self, *tags: str) -> dict[str, Any]:
        """Add tags; returns the session's info."""
        return self.hub.tag(self.name, *tags, server=self.server)

    async def atag(self, *tags: str) -> dict[str, Any]:
        return await self.hub.atag(self.name, *tags, server=self.server)

    def untag(self, *tags: str) -> dict[str, Any]:
        """Remove tags; returns the session's info."""
        return self.hub.untag(self.name, *tags, server=self.server)

    async def auntag(self, *tags: str) -> dict[str, Any]:
        return await self.hub.auntag(self.name, *tags, server=self.server)

    def rename(self, new_name: str) -> dict[str, Any]:
        """Rename the session; this handle follows."""
        info = self.hub.rename(self.name, new_name, server=self.server)
        self.name = info["name"]
        return info

    async def arename(self, new_name: str) -> dict[str, Any]:
        info = await self.hub.arename(self.name, new_name, server=self.server)
        self.name = info["name"]
        return info


# -- the kernel's hub ---------------------------------------------------------------------------
# Kept on a namespace hung off ``sys`` rather than in this module's globals: ``%reload_ext wsh_nb``,
# ``%autoreload`` or deleting wsh_nb from ``sys.modules`` re-execute or replace module objects, and a
# module global would then be reset while the old hub keeps its thread and sessions (orphaned).
_KERNEL_SLOT = "_wsh_nb_kernel_hub"


def _kernel_state() -> types.SimpleNamespace:
    state = getattr(sys, _KERNEL_SLOT, None)
    if state is None:
        state = sys.__dict__.setdefault(_KERNEL_SLOT, types.SimpleNamespace(hub=None, lock=threading.Lock()))
    return state


def get_hub() -> Hub:
    """The kernel's one hub: created on first use, the same object on every later call (re-run cells,
    ``%reload_ext wsh_nb``, other threads); a hub that was closed is replaced by a new one.
    """
    state = _kernel_state()
    with state.lock:
        hub = state.hub
        if hub is None or hub.closed:
            hub = state.hub = Hub()
        return hub


def _forget_kernel_hub() -> None:
    """Close and drop the kernel's hub (tests, ``unload_ipython_extension``)."""
    state = _kernel_state()
    with state.lock:
        hub, state.hub = state.hub, None
    if hub is not None:
        with contextlib.suppress(Exception):
            hub.close()
