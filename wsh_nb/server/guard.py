"""The outermost ASGI layer: security headers on every response, Bearer auth on every route but /health.

A pure ASGI middleware (no per-request objects) because it sits on the hot path of every proxied call.
Tokens are compared in constant time and never echoed, logged or put in an error message.
"""

from __future__ import annotations

import hmac
from typing import Any

from ..errors import AuthInvalid, AuthRequired, WshError
from ..wire import dumps

SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
OPEN_PATHS = frozenset({"/health"})


class Guard:
    def __init__(self, app: Any, *, token: str | None) -> None:
        self.app = app
        self._token = token.encode() if token else None

    def _check(self, scope: dict[str, Any]) -> WshError | None:
        if self._token is None or scope.get("path") in OPEN_PATHS:
            return None
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                scheme, _, given = value.partition(b" ")
                if scheme != b"Bearer" or not given:
                    return AuthRequired("use the header 'Authorization: Bearer <token>'")
                if hmac.compare_digest(given, self._token):
                    return None
                return AuthInvalid("the token is wrong; check the server's token")
        return AuthRequired("this server needs a token: send 'Authorization: Bearer <token>'")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                message["headers"] = list(message.get("headers", ())) + SECURITY_HEADERS
            await send(message)

        denied = self._check(scope)
        if denied is None:
            await self.app(scope, receive, send_with_headers)
            return
        body = dumps(denied.to_json())
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if kind == "http":
            await send_with_headers(
                {"type": "http.response.start", "status": denied.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": body})
        elif "websocket.http.response" in scope.get("extensions", {}):
            await receive()  # websocket.connect
            await send_with_headers(
                {"type": "websocket.http.response.start", "status": denied.status, "headers": headers}
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await receive()
            await send({"type": "websocket.close", "code": 1008})
