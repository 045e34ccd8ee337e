"""Reading requests strictly: bounded bodies, JSON objects, typed query parameters.

Everything malformed becomes an ``InvalidRequest`` with the wire's status (400 bad JSON or value,
413 over 1 MiB, 415 wrong content type, 422 wrong type), never a framework text page.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from ..errors import InvalidRequest
from ..wire import BODY_LIMIT, parse_tag_query


async def read_body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > BODY_LIMIT:
        raise InvalidRequest("request body is larger than 1 MiB", status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > BODY_LIMIT:
            raise InvalidRequest("request body is larger than 1 MiB", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object with ``null`` fields dropped; an empty body is ``{}``."""
    raw = await read_body(request)
    ctype = request.headers.get("content-type")
    if ctype is not None:
        media = ctype.split(";", 1)[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise InvalidRequest(
                f"send JSON with 'Content-Type: application/json', not {media!r}", status=415
            )
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON object", status=422)
    return {k: v for k, v in data.items() if v is not None}


def typed(body: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = body.get(key)
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
        raise InvalidRequest(f"'{key}' must be {what}", status=422)
    return value


def int_query(
    request: Request, key: str, default: int | None = None, *, required: bool = False
) -> int | None:
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        if required:
            raise InvalidRequest(f"the query parameter '{key}' is required (milliseconds, e.g. ?{key}=500)")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"'{key}' must be a whole number, got {raw!r}") from None
    if value < 0:
        raise InvalidRequest(f"'{key}' must not be negative")
    return value


def bool_query(request: Request, key: str) -> bool:
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        return False
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidRequest(f"'{key}' must be true or false, got {raw!r}")


def tags_query(request: Request) -> list[str]:
    return parse_tag_query(request.query_params.get("tag"))


def server_query(request: Request) -> str | None:
    return request.query_params.get("server") or None
