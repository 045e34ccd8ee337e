"""BackendClient: plain HTTP to one backend, keep-alive pooled, errors translated once, here.

One keep-alive ``Transport`` per backend (``transport.py``).  Every call sends
``Authorization: Bearer <token>`` where the token is the backend's own or the config's ``default_token`` —
never the hub's own token (WIRE.md §4).

Error mapping, in one place:
  * an error status with a wsh error body → the same class from ``wsh_nb.errors`` with ``.server`` set;
  * connection refused/reset, timeouts → ``ServerUnavailable`` naming the backend and what happened;
  * non-JSON, bodies over 16 MiB (reading stops there), or a body that breaks the contract → ``BadGateway``
    (and ``on_protocol_error`` is told, so the hub can show the problem on the backend's entry).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson

from ..errors import BadGateway, ServerUnavailable, error_from_json
from ..wire import dumps, loads
from . import sanitize
from .sanitize import ProtocolError
from .transport import (
    BadResponse,
    BodyTooLarge,
    ConnectFailed,
    RequestTimeout,
    Transport,
    TransportError,
)

MAX_BODY = 16 << 20
IDLE_MARGIN = 5.0  # seconds on top of max_wait_ms for idle waits


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BackendClient:
    """HTTP client for one backend.  ``hostname`` is set by the monitor once learned."""

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        connect_timeout: float = 5.0,
        request_timeout: float = 30.0,
        on_protocol_error: Callable[[str], None] | None = None,
    ) -> None:
        self.address = address
        self.hostname: str | None = None
        self._token = token
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.on_protocol_error = on_protocol_error
        self._transport: Transport | None = None

    def __repr__(self) -> str:
        return f"<BackendClient {self.label}>"

    @property
    def label(self) -> str:
        return self.hostname or self.address

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _get_transport(self) -> Transport:
        if self._transport is None or self._transport.closed:
            self._transport = Transport(
                self.address,
                headers=self.auth_headers,
                connect_timeout=self.connect_timeout,
                max_body=MAX_BODY,
            )
        return self._transport

    async def aclose(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _bad(self, problem: str) -> BadGateway:
        message = f"backend {self.label} {problem}"
        if self.on_protocol_error is not None:
            self.on_protocol_error(message)
        return BadGateway(message, server=self.label)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: object = None,
        data: bytes | None = None,
        timeout: float | None = None,
    ) -> object:
        """One request; decoded JSON, or None for 204 (see the module docstring for errors)."""
        content_type = None
        body: bytes | None = data
        if json is not None:
            body = dumps(json)
            content_type = "application/json"
        query = {k: _param(v) for k, v in params.items() if v is not None} if params else None
        total = self.request_timeout if timeout is None else timeout
        what = f"{method} {path}"
        try:
            status, raw = await self._get_transport().request(
                method, path, query=query, body=body, content_type=content_type, timeout=total
            )
        except RequestTimeout:
            raise ServerUnavailable(
                f"backend {self.label} did not answer {what} within {total:g} s", server=self.label
            ) from None
        except ConnectFailed as exc:
            raise ServerUnavailable(
                f"cannot connect to backend {self.label}: {exc}", server=self.label
            ) from None
        except (BodyTooLarge, BadResponse) as exc:
            raise self._bad(str(exc)) from None
        except TransportError as exc:
            raise ServerUnavailable(
                f"backend {self.label} failed during {what}: {exc}", server=self.label
            ) from None
        if status == 204:
            return None
        try:
            decoded = loads(raw) if raw else None
        except orjson.JSONDecodeError:
            raise self._bad(f"answered {what} with HTTP {status} and a non-JSON body") from None
        if status >= 400:
            err = error_from_json(status, decoded, server=self.label)
            if isinstance(err, BadGateway):
                raise self._bad(f"answered {what} with HTTP {status} without a wsh error body")
            raise err
        if not 200 <= status < 300:
            raise self._bad(f"answered {what} with unexpected HTTP {status}")
        return decoded

    def _check(self, fn: Callable[..., Any], value: Any, what: str, **kw: Any) -> Any:
        try:
            return fn(value, **kw)
        except ProtocolError as exc:
            raise self._bad(f"sent an invalid {what}: {exc}") from None

    @staticmethod
    def _path(name: str, suffix: str = "") -> str:
        return f"/sessions/{quote(name, safe='')}{suffix}"

    # -- typed, sanitized helpers -------------------------------------------------------------------
    async def info(self) -> dict[str, Any]:
        return self._check(sanitize.server_info, await self.call("GET", "/server/info"), "server info")

    async def list_sessions(
        self, tags: list[str] | None = None, *, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        # Ask for the backend's *own* sessions (its hostname means local, by the wire rule): a backend
        # that is a hub itself would otherwise hand us its backends' sessions under its own name.
        params: dict[str, Any] = {"server": self.hostname} if self.hostname else {}
        if tags:
            params["tag"] = ",".join(tags)
        raw = await self.call("GET", "/sessions", params=params, timeout=timeout)
        return self._check(sanitize.listing, raw, "session listing", server=self.label)

    async def create_session(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = await self.call("POST", "/sessions", json=body)
        return self._check(sanitize.session_info, raw, "session info", server=self.label)

    async def get_session(self, name: str) -> dict[str, Any]:
        raw = await self.call("GET", self._path(name))
        return self._check(sanitize.session_info, raw, "session info", server=self.label)

    async def update_session(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        raw = await self.call("PATCH", self._path(name), json=body)
        return self._check(sanitize.session_info, raw, "session info", server=self.label)

    async def kill_session(self, name: str) -> None:
        await self.call("DELETE", self._path(name))

    async def send_input(self, name: str, data: bytes) -> None:
        await self.call("POST", self._path(name, "/input"), data=bytes(data))

    async def screen(self, name: str, format: str) -> dict[str, Any]:
        raw = await self.call("GET", self._path(name, "/screen"), params={"format": format})
        return self._check(sanitize.screen, raw, "screen")

    async def scrollback(self, name: str, format: str, offset: int, limit: int) -> dict[str, Any]:
        params = {"format": format, "offset": offset, "limit": limit}
        raw = await self.call("GET", self._path(name, "/scrollback"), params=params)
        return self._check(sanitize.scrollback, raw, "scrollback")

    def _idle_timeout(self, params: dict[str, Any]) -> float:
        max_wait = params.get("max_wait_ms")
        max_wait_s = (max_wait if isinstance(max_wait, (int, float)) else 30_000) / 1000
        return max(0.0, max_wait_s) + IDLE_MARGIN

    async def idle(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        timeout = self._idle_timeout(params)
        raw = await self.call("GET", self._path(name, "/idle"), params=params, timeout=timeout)
        return self._check(sanitize.idle, raw, "idle result")

    async def idle_any(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = await self.call("GET", "/idle", params=params, timeout=self._idle_timeout(params))
        return self._check(sanitize.idle_any, raw, "idle result", server=self.label)

    async def detach(self, name: str) -> None:
        await self.call("POST", self._path(name, "/detach"), json={})
