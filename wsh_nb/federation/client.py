"""BackendClient: plain HTTP to one backend, keep-alive pooled, errors translated once, here.

One ``aiohttp.ClientSession`` per backend.  Every call sends ``Authorization: Bearer <token>`` where the
token is the backend's own or the config's ``default_token`` — never the hub's own token (WIRE.md §4).

Error mapping, in one place:
  * an error status with a wsh error body → the same class from ``wsh_nb.errors`` with ``.server`` set;
  * connection refused/reset, timeouts → ``ServerUnavailable`` naming the backend and what happened;
  * non-JSON, bodies over 16 MiB (reading stops there), or a body that breaks the contract → ``BadGateway``
    (and ``on_protocol_error`` is told, so the hub can show the problem on the backend's entry).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from ..errors import BadGateway, ServerUnavailable, WshError, error_from_json
from ..wire import dumps, loads
from . import sanitize
from .sanitize import ProtocolError

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
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(total=request_timeout, connect=connect_timeout)

    def __repr__(self) -> str:
        return f"<BackendClient {self.label}>"

    @property
    def label(self) -> str:
        return self.hostname or self.address

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30, enable_cleanup_closed=True),
                headers=self.auth_headers,
                timeout=self._timeout,
                trust_env=False,  # no proxies from the environment
                auto_decompress=True,
                json_serialize=lambda o: dumps(o).decode(),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _bad(self, problem: str) -> BadGateway:
        message = f"backend {self.label} {problem}"
        if self.on_protocol_error is not None:
            self.on_protocol_error(message)
        return BadGateway(message, server=self.label)

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        length = resp.content_length
        if length is not None and length > MAX_BODY:
            resp.close()
            raise self._bad(f"sent a {length}-byte body (limit {MAX_BODY})")
        if length is not None:  # the common case: one read of a known, bounded size
            return await resp.read()
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > MAX_BODY:
                resp.close()  # stop reading: drop the connection
                raise self._bad(f"sent a body over {MAX_BODY} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

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
        headers = None
        body: bytes | None = data
        if json is not None:
            body = dumps(json)
            headers = {"Content-Type": "application/json"}
        query = {k: _param(v) for k, v in params.items() if v is not None} if params else None
        t = (
            self._timeout
            if timeout is None
            else aiohttp.ClientTimeout(total=timeout, connect=min(self.connect_timeout, timeout))
        )
        what = f"{method} {path}"
        try:
            async with self._get_session().request(
                method,
                self.address + path,
                params=query,
                data=body,
                headers=headers,
                timeout=t,
                allow_redirects=False,
            ) as resp:
                status = resp.status
                raw = await self._read(resp)
        except WshError:
            raise
        except asyncio.TimeoutError:
            raise ServerUnavailable(
                f"backend {self.label} did not answer {what} within {t.total} s", server=self.label
            ) from None
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror if exc.os_error and exc.os_error.strerror else str(exc)
            raise ServerUnavailable(
                f"cannot connect to backend {self.label}: {reason}", server=self.label
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ServerUnavailable(
                f"backend {self.label} failed during {what}: {type(exc).__name__}: {exc}",
                server=self.label,
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
        params = {"tag": ",".join(tags)} if tags else None
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
