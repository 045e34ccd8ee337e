"""The wsh wire protocol over HTTP: each route reads its input, makes one AsyncHub call, returns JSON.

Assembled in one visible place (``create_app``); one handler renders the whole ``WshError`` tree and
another turns framework errors (unknown route, wrong method) into the same error JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import InvalidRequest, MethodNotAllowed, NotFound, WshError
from ..hub import AsyncHub
from ..wire import dumps
from .guard import Guard
from .request import (
    bool_query,
    int_query,
    json_object,
    read_body,
    server_query,
    tags_query,
    typed,
)

LIFECYCLE_EVENTS = frozenset(
    {"session_created", "session_destroyed", "session_renamed", "session_tags_changed"}
)


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


NO_CONTENT = 204


def _hub(request: Request | WebSocket) -> AsyncHub:
    return request.app.state.hub


def _fmt(request: Request) -> str:
    return request.query_params.get("format") or "styled"


# -- identity ------------------------------------------------------------------------------------
async def health(request: Request) -> JSON:
    return JSON({"status": "ok"})


async def server_info(request: Request) -> JSON:
    return JSON(_hub(request).info())


async def get_persist(request: Request) -> JSON:
    return JSON({"persistent": _hub(request).persistent})


async def put_persist(request: Request) -> JSON:
    body = await json_object(request)
    value = body.get("persistent")
    if not isinstance(value, bool):
        raise InvalidRequest('send {"persistent": true} or {"persistent": false}')
    _hub(request).set_persistent(value)
    return JSON({"persistent": value})


# -- sessions ------------------------------------------------------------------------------------
async def list_sessions(request: Request) -> JSON:
    listing = await _hub(request).list_sessions(
        tags=tags_query(request) or None, server=server_query(request)
    )
    headers = {"X-Wsh-Partial": ",".join(listing.partial)} if listing.partial else None
    return JSON(listing.sessions, headers=headers)


async def create_session(request: Request) -> JSON:
    body = await json_object(request)
    server = typed(body, "server", str, "a hostname") or server_query(request)
    info = await _hub(request).create_session(
        body.get("name"),
        server=server,
        command=typed(body, "command", str, "a string"),
        rows=body.get("rows"),
        cols=body.get("cols"),
        cwd=typed(body, "cwd", str, "a string"),
        env=typed(body, "env", dict, "an object of strings"),
        tags=typed(body, "tags", list, "a list of strings"),
    )
    return JSON(info, status_code=201)


async def get_session(request: Request) -> JSON:
    return JSON(await _hub(request).get_session(request.path_params["name"], server=server_query(request)))


async def patch_session(request: Request) -> JSON:
    body = await json_object(request)
    info = await _hub(request).update_session(
        request.path_params["name"],
        server=server_query(request),
        new_name=body.get("name"),
        add_tags=typed(body, "add_tags", list, "a list of strings"),
        remove_tags=typed(body, "remove_tags", list, "a list of strings"),
    )
    return JSON(info)


async def delete_session(request: Request) -> Response:
    await _hub(request).kill_session(request.path_params["name"], server=server_query(request))
    return Response(status_code=NO_CONTENT)


async def send_input(request: Request) -> Response:
    data = await read_body(request)
    await _hub(request).send_input(request.path_params["name"], data, server=server_query(request))
    return Response(status_code=NO_CONTENT)


async def screen(request: Request) -> JSON:
    hub = _hub(request)
    return JSON(
        await hub.screen(request.path_params["name"], server=server_query(request), format=_fmt(request))
    )


async def scrollback(request: Request) -> JSON:
    result = await _hub(request).scrollback(
        request.path_params["name"],
        server=server_query(request),
        format=_fmt(request),
        offset=int_query(request, "offset", 0) or 0,
        limit=int_query(request, "limit", 100) or 0,
    )
    return JSON(result)


async def session_idle(request: Request) -> JSON:
    result = await _hub(request).wait_idle(
        request.path_params["name"],
        server=server_query(request),
        timeout_ms=int_query(request, "timeout_ms", required=True),  # type: ignore[arg-type]
        max_wait_ms=int_query(request, "max_wait_ms", 30000),  # type: ignore[arg-type]
        last_generation=int_query(request, "last_generation"),
        fresh=bool_query(request, "fresh"),
        format=_fmt(request),
    )
    return JSON(result)


async def server_idle(request: Request) -> JSON:
    result = await _hub(request).wait_idle_any(
        timeout_ms=int_query(request, "timeout_ms", required=True),  # type: ignore[arg-type]
        max_wait_ms=int_query(request, "max_wait_ms", 30000),  # type: ignore[arg-type]
        tags=tags_query(request) or None,
        last_session=request.query_params.get("last_session") or None,
        last_server=request.query_params.get("last_server") or None,
        last_generation=int_query(request, "last_generation"),
        fresh=bool_query(request, "fresh"),
        format=_fmt(request),
        server=server_query(request),
    )
    return JSON(result)


async def detach(request: Request) -> Response:
    await _hub(request).detach(request.path_params["name"], server=server_query(request))
    return Response(status_code=NO_CONTENT)


# -- federation ----------------------------------------------------------------------------------
async def list_servers(request: Request) -> JSON:
    return JSON(await _hub(request).list_servers())


async def add_server(request: Request) -> JSON:
    body = await json_object(request)
    address = body.get("address")
    if not isinstance(address, str) or not address:
        raise InvalidRequest('send {"address": "http://host:port"} (and optionally "token")')
    token = typed(body, "token", str, "a string")
    return JSON(await _hub(request).add_server(address, token=token), status_code=201)


async def reload_servers(request: Request) -> JSON:
    return JSON(await _hub(request).reload_config())


def _handle(request: Request) -> str:
    # The raw path keeps an encoded address (http%3A%2F%2F...) in one piece; decode it ourselves.
    raw = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
    return unquote(raw[len("/servers/") :]) if raw.startswith("/servers/") else request.path_params["handle"]


async def get_server(request: Request) -> JSON:
    return JSON(await _hub(request).get_server(_handle(request)))


async def delete_server(request: Request) -> Response:
    await _hub(request).remove_server(_handle(request))
    return Response(status_code=NO_CONTENT)


# -- lifecycle events ----------------------------------------------------------------------------
async def events_socket(websocket: WebSocket) -> None:
    """``/ws/json``: ``{"connected": true}``, then lifecycle events; hubs use it as a health channel."""
    hub = _hub(websocket)
    await websocket.accept()
    async with hub.events.subscribe() as queue:
        await websocket.send_text('{"connected":true}')
        receiver = asyncio.ensure_future(_drain(websocket))
        try:
            while not receiver.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                event = getter.result()
                if event["event"] in LIFECYCLE_EVENTS:
                    await websocket.send_text(dumps(event).decode())
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            receiver.cancel()
            with contextlib.suppress(BaseException):
                await receiver


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the peer sends until it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


# -- errors --------------------------------------------------------------------------------------
async def wsh_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, WshError)
    return JSON(exc.to_json(), status_code=exc.status)


async def http_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err: WshError = NotFound(f"no route {request.method} {request.url.path}")
    elif exc.status_code == 405:
        err = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
    else:
        err = InvalidRequest(exc.detail or "invalid request", status=exc.status_code)
    return JSON(err.to_json(), status_code=err.status, headers=exc.headers)


async def internal_error(request: Request, exc: Exception) -> JSON:
    return JSON(WshError("internal error; see the server's log").to_json(), status_code=500)


def create_app(hub: AsyncHub) -> Guard:
    """The ASGI app serving ``hub``, wrapped in the auth/security-header guard."""
    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/server/info", server_info, methods=["GET"]),
        Route("/server/persist", get_persist, methods=["GET"]),
        Route("/server/persist", put_persist, methods=["PUT"]),
        Route("/sessions", list_sessions, methods=["GET"]),
        Route("/sessions", create_session, methods=["POST"]),
        Route("/sessions/{name}", get_session, methods=["GET"]),
        Route("/sessions/{name}", patch_session, methods=["PATCH"]),
        Route("/sessions/{name}", delete_session, methods=["DELETE"]),
        Route("/sessions/{name}/input", send_input, methods=["POST"]),
        Route("/sessions/{name}/screen", screen, methods=["GET"]),
        Route("/sessions/{name}/scrollback", scrollback, methods=["GET"]),
        Route("/sessions/{name}/idle", session_idle, methods=["GET"]),
        Route("/sessions/{name}/detach", detach, methods=["POST"]),
        Route("/idle", server_idle, methods=["GET"]),
        Route("/servers", list_servers, methods=["GET"]),
        Route("/servers", add_server, methods=["POST"]),
        Route("/servers/reload", reload_servers, methods=["POST"]),
        Route("/servers/{handle:path}", get_server, methods=["GET"]),
        Route("/servers/{handle:path}", delete_server, methods=["DELETE"]),
        WebSocketRoute("/ws/json", events_socket),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={WshError: wsh_error, HTTPException: http_error, Exception: internal_error},
    )
    app.state.hub = hub
    return Guard(app, token=hub.token)
