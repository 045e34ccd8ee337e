"""The one exception tree, shared by every face of wsh_nb.

The HTTP server renders any ``WshError`` as ``{"error": {"code", "message"}}`` with the class's status;
the backend client decodes such a body back into the same class (with ``.server`` set to the backend
that raised it); the notebook shows the message as one line.  Codes and statuses follow WIRE.md.

    WshError                      (500 internal_error) base; .code, .status, .server
    ├── InvalidRequest            (400 invalid_request) bad JSON/address/argument; 413/415/422 per instance
    │   ├── InvalidSessionName    (400 invalid_session_name)
    │   └── InvalidTag            (400 invalid_tag)
    ├── AuthRequired              (401 auth_required) no ``Authorization: Bearer`` header
    ├── AuthInvalid               (403 auth_invalid) wrong token
    ├── NotFound                  (404 not_found) unknown route
    │   ├── SessionNotFound       (404 session_not_found)
    │   ├── ServerNotFound        (404 server_not_found)
    │   └── NoSessions            (404 no_sessions) an idle race with no candidates
    ├── MethodNotAllowed          (405 method_not_allowed)
    ├── IdleTimeout               (408 idle_timeout) ``max_wait_ms`` ran out; also a ``TimeoutError``
    ├── Conflict                  (409 conflict)
    │   ├── SessionNameConflict   (409 session_name_conflict)
    │   ├── ServerAlreadyRegistered (409 server_already_registered)
    │   └── AmbiguousSession      (409 ambiguous_session) the hub placed a name on several servers
    ├── SessionCreateFailed       (500 session_create_failed)
    ├── InputSendFailed           (500 input_send_failed)
    ├── BadGateway                (502 bad_gateway) a backend broke the protocol
    ├── ServerUnavailable         (503 server_unavailable) backend not healthy or unreachable
    ├── MaxSessionsReached        (503 max_sessions_reached)
    └── HealthTimeout             (504 health_timeout) ``wait_healthy`` ran out; also a ``TimeoutError``
"""

from __future__ import annotations

from typing import Any, ClassVar


class WshError(Exception):
    """Base of every error wsh_nb raises on purpose."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, server: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.server = server
        if status is not None:
            self.status = status  # type: ignore[misc]  # per-instance override (413/415/422)

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def __str__(self) -> str:
        return self.message


class InvalidRequest(WshError):
    code = "invalid_request"
    status = 400


class InvalidSessionName(InvalidRequest):
    code = "invalid_session_name"


class InvalidTag(InvalidRequest):
    code = "invalid_tag"


class AuthRequired(WshError):
    code = "auth_required"
    status = 401


class AuthInvalid(WshError):
    code = "auth_invalid"
    status = 403


class NotFound(WshError):
    code = "not_found"
    status = 404


class SessionNotFound(NotFound):
    code = "session_not_found"


class ServerNotFound(NotFound):
    code = "server_not_found"


class NoSessions(NotFound):
    code = "no_sessions"


class MethodNotAllowed(WshError):
    code = "method_not_allowed"
    status = 405


class IdleTimeout(WshError, TimeoutError):
    code = "idle_timeout"
    status = 408


class Conflict(WshError):
    code = "conflict"
    status = 409


class SessionNameConflict(Conflict):
    code = "session_name_conflict"


class ServerAlreadyRegistered(Conflict):
    code = "server_already_registered"


class AmbiguousSession(Conflict):
    code = "ambiguous_session"


class SessionCreateFailed(WshError):
    code = "session_create_failed"
    status = 500


class InputSendFailed(WshError):
    code = "input_send_failed"
    status = 500


class BadGateway(WshError):
    code = "bad_gateway"
    status = 502


class ServerUnavailable(WshError):
    code = "server_unavailable"
    status = 503


class MaxSessionsReached(WshError):
    code = "max_sessions_reached"
    status = 503


class HealthTimeout(WshError, TimeoutError):
    code = "health_timeout"
    status = 504


def _all_classes(cls: type[WshError]) -> list[type[WshError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out += _all_classes(sub)
    return out


ERROR_CLASSES: dict[str, type[WshError]] = {c.code: c for c in _all_classes(WshError)}


def error_from_json(status: int, body: Any, *, server: str | None = None) -> WshError:
    """Rebuild the error a peer sent (``{"error": {"code", "message"}}``) as our own class.

    An unknown code keeps its status and code text, so nothing a backend says is lost; a body that is
    not the error shape becomes a ``BadGateway``.
    """
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("code"), str):
        return BadGateway(f"backend answered HTTP {status} without a wsh error body", server=server)
    code = err["code"][:64]
    message = err.get("message")
    message = message[:2000] if isinstance(message, str) else code
    cls = ERROR_CLASSES.get(code)
    if cls is None:
        exc = WshError(message, server=server, status=status)
        exc.code = code  # type: ignore[misc]
        return exc
    return cls(message, server=server, status=status if status != cls.status else None)
