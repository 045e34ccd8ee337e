"""AsyncHub: the one core every face calls (HTTP routes, the notebook facade, widgets).

It owns the local session registry and the federation, and routes each call by the wire rule:
``server`` omitted or equal to our hostname → local; a registered healthy backend → proxied;
unknown → ``ServerNotFound``; known but not healthy → ``ServerUnavailable``.  Listings and the idle race
fan out concurrently; every result is a plain JSON-ready value in wire shape.

All methods must be called on the hub's event loop.  Nothing here prints.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .errors import WshError  # noqa: F401  (re-exported for handlers)


class SessionListing(NamedTuple):
    sessions: list[dict[str, Any]]  # SessionInfo dicts, each with its "server"
    partial: list[str]  # registered backends left out (unhealthy or failed during the call)


class AsyncHub:
    """Local sessions + federation.  ``async with AsyncHub(...) as hub:`` or ``await hub.start()``.

    Options (all keyword-only):
      hostname       our name in the cluster (default: config ``[server] hostname``, else the system's)
      token          the token *our own server* requires from clients; never sent to backends
      default_token  token for backends registered without one (config ``default_token``)
      config         path of a TOML config file (WIRE.md §4); runtime adds/removes are written back
      max_sessions   local session cap (256)
      ping_interval, pong_timeout, open_timeout, backoff_max: health-loop tuning (0.5, 1.0, 2.0, 1.0 s)
    """

    hostname: str
    server_id: str
    version: str

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
    ) -> None:
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> AsyncHub: ...
    async def aclose(self) -> None:
        """Stop health loops, close backend clients, kill local sessions."""

    async def __aenter__(self) -> AsyncHub: ...
    async def __aexit__(self, *exc: object) -> None: ...

    # -- identity -------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """``{"hostname", "version", "server_id", "uptime_s", "capabilities"}`` (GET /server/info)."""

    @property
    def events(self):  # -> EventBus
        """Lifecycle (session_*) and ``server_health`` events, for /ws/json and widgets."""

    # -- federation -----------------------------------------------------------------------------
    async def list_servers(self) -> list[dict[str, Any]]:
        """Self entry first, then every backend entry (wire shape, never a token)."""

    async def get_server(self, handle: str) -> dict[str, Any]:
        """By hostname (own hostname → self entry) or address; ``ServerNotFound``."""

    async def add_server(self, address: str, *, token: str | None = None) -> dict[str, Any]:
        """Register a backend; returns ``{"address", "health": "connecting"}`` at once."""

    async def remove_server(self, handle: str) -> None:
        """Deregister by hostname or address; its sessions keep running on the backend."""

    async def reload_config(self) -> dict[str, list[str]]:
        """Reconcile backends with the config file by address: ``{"added", "removed", "updated"}``."""

    async def wait_healthy(self, *handles: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until the named (default: all) backends are healthy; ``HealthTimeout`` names laggards."""

    # -- sessions -------------------------------------------------------------------------------
    async def list_sessions(
        self, *, tags: list[str] | None = None, server: str | None = None
    ) -> SessionListing: ...

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
    ) -> dict[str, Any]: ...

    async def get_session(self, name: str, *, server: str | None = None) -> dict[str, Any]: ...

    async def update_session(
        self,
        name: str,
        *,
        server: str | None = None,
        new_name: str | None = None,
        add_tags: list[str] | None = None,
        remove_tags: list[str] | None = None,
    ) -> dict[str, Any]: ...

    async def kill_session(self, name: str, *, server: str | None = None) -> None: ...

    async def send_input(self, name: str, data: bytes, *, server: str | None = None) -> None: ...

    async def screen(self, name: str, *, server: str | None = None, format: str = "styled") -> dict[str, Any]:
        """Screen object (WIRE.md §3) plus ``last_activity_ms``."""

    async def scrollback(
        self, name: str, *, server: str | None = None, format: str = "styled", offset: int = 0, limit: int = 100
    ) -> dict[str, Any]: ...

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
    ) -> dict[str, Any]:
        """Cluster-wide race: ``{"session", "server", "screen", "scrollback_lines", "generation"}``."""

    async def detach(self, name: str, *, server: str | None = None) -> None: ...

    @property
    def persistent(self) -> bool: ...

    def set_persistent(self, value: bool) -> None: ...
