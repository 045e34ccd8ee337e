"""A tiny real HTTP server (aiohttp.web on a pre-bound 127.0.0.1:0 socket) that breaks the wire contract
on request.  It speaks enough of WIRE.md (``/server/info``, ``/sessions``, ``/ws/json``) to become a
healthy backend, and each route's answer can be replaced by a test (``server.replies[(method, path)]``).

It runs on the test's own event loop, so tests that use it must be async.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import WSMsgType, web

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_reply(body: object, status: int = 200) -> Reply:
    async def reply(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")

    return reply


def raw_reply(body: bytes, status: int = 200, content_type: str = "text/plain") -> Reply:
    async def reply(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type=content_type)

    return reply


class Hostile:
    def __init__(self, hostname: str = "hostile", *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.info: dict[str, object] = {
            "hostname": hostname,
            "version": "0.0-evil",
            "server_id": str(uuid.uuid4()),
        }
        self.sessions: list[dict[str, object]] = []
        self.replies: dict[tuple[str, str], Reply] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Authorization)
        self.raw_paths: list[str] = []
        self.silent = False  # True: the WebSocket stops answering pings (a frozen peer)
        self.bytes_sent = 0
        self.host, self.port = host, port
        self._sockets: set[web.WebSocketResponse] = set()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> Hostile:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def close(self) -> None:
        """Stop listening and drop every connection (like a killed process)."""
        for ws in list(self._sockets):
            if ws._req is not None and ws._req.transport is not None:
                ws._req.transport.abort()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def broadcast(self, event: dict[str, object]) -> None:
        for ws in list(self._sockets):
            await ws.send_bytes(orjson.dumps(event))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path, request.headers.get("Authorization")))
        self.raw_paths.append(request.raw_path)
        reply = self.replies.get((request.method, request.path))
        if reply is not None:
            return await reply(request)
        if request.path == "/ws/json":
            return await self._ws(request)
        if request.path == "/server/info":
            return await json_reply(self.info)(request)
        if request.path == "/sessions" and request.method == "GET":
            return await json_reply(self.sessions)(request)
        return await json_reply({"error": {"code": "not_found", "message": "no route"}}, 404)(request)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await ws.send_bytes(orjson.dumps({"connected": True}))
            async for msg in ws:
                if msg.type == WSMsgType.PING and not self.silent:
                    await ws.pong(msg.data)
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        finally:
            self._sockets.discard(ws)
        return ws


def streaming_reply(total: int, *, with_length: bool, server: Hostile) -> Reply:
    """A body of ``total`` bytes, written 1 MiB at a time; counts what actually left."""

    async def reply(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        if with_length:
            resp.content_length = total
        await resp.prepare(request)
        chunk = b"[" + b" " * ((1 << 20) - 1)
        try:
            sent = 0
            while sent < total:
                await resp.write(chunk)
                sent += len(chunk)
                server.bytes_sent = sent
        except (ConnectionError, asyncio.CancelledError, RuntimeError):
            pass
        return resp

    return reply


def slow_reply(server: Hostile, event: asyncio.Event) -> Reply:
    """Answer only once ``event`` is set (the test sets it at teardown)."""

    async def reply(request: web.Request) -> web.Response:
        await event.wait()
        return web.Response(body=b"[]", content_type="application/json")

    return reply


class Mute:
    """Accepts TCP (the kernel completes the handshake into the backlog) but never answers a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()
