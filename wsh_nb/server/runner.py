"""Run an AsyncHub's HTTP face with uvicorn on a socket we bind ourselves.

Binding ourselves (``SO_REUSEADDR``, port 0 allowed) lets callers learn the real port before serving
and lets a restarted server rebind its old port at once.  Works on any thread's loop: the in-kernel
hub serves from its own thread, where uvicorn installs no signal handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn

from ..hub import AsyncHub
from .app import create_app


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn without its signal capture: whoever runs us decides what a signal means."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class RunningServer:
    """A hub served over HTTP on the current loop; ``await aclose()`` stops serving (not the hub)."""

    def __init__(self, server: _Server, task: asyncio.Task[None], url: str) -> None:
        self._server = server
        self._task = task
        self.url = url

    def __repr__(self) -> str:
        return f"<RunningServer {self.url}>"

    @property
    def done(self) -> asyncio.Task[None]:
        return self._task

    async def aclose(self) -> None:
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def serve_hub(
    hub: AsyncHub,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    sock: socket.socket | None = None,
    log_level: str = "warning",
) -> RunningServer:
    sock = sock or bind_socket(host, port)
    config = uvicorn.Config(
        create_app(hub),
        log_level=log_level,
        access_log=False,
        lifespan="off",
        ws="websockets-sansio",
        timeout_graceful_shutdown=1,
        ws_ping_interval=None,
    )
    server = _Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the HTTP server stopped during start-up")
        await asyncio.sleep(0.005)
    return RunningServer(server, task, url_of(sock))
