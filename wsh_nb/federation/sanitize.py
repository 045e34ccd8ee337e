"""Validate everything a backend sends before the hub uses or forwards it (WIRE.md §3, §4).

Each function takes decoded JSON and returns a fresh value holding only the known fields, typed and
checked with the same rules the server applies to its users (``wsh_nb.wire``).  Anything broken raises
``ProtocolError`` naming the problem; the backend client turns that into ``BadGateway`` naming the
backend, and records it on the backend's entry.
"""

from __future__ import annotations

from typing import Any

from ..wire import SPAN_FLAGS, is_valid_hostname, is_valid_name

MAX_LISTING = 1000
MAX_LINES = 10_000  # a screen has ≤ 1000 rows; a scrollback page ≤ 10000 lines
MAX_SPANS = 4096  # spans per styled line
MAX_TEXT = 1 << 20  # characters per line / command



class ProtocolError(ValueError):
    """A backend response broke the wire contract; the message says how."""


def _int(obj: dict[str, Any], key: str, *, required: bool = False, minimum: int | None = 0) -> int | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise ProtocolError(f"missing {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{key!r} is not an integer: {_short(value)}")
    if minimum is not None and value < minimum:
        raise ProtocolError(f"{key!r} is negative: {value}")
    return value


def _number(obj: dict[str, Any], key: str) -> int | float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        raise ProtocolError(f"{key!r} is not a non-negative number: {_short(value)}")
    return value


def _bool(obj: dict[str, Any], key: str) -> bool | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ProtocolError(f"{key!r} is not a boolean: {_short(value)}")
    return value


def _str(obj: dict[str, Any], key: str, *, limit: int = MAX_TEXT) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError(f"{key!r} is not a string of at most {limit} characters: {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is not a JSON object: {_short(value)}")
    return value


def session_name(value: Any, what: str = "session name") -> str:
    if not is_valid_name(value):
        raise ProtocolError(f"invalid {what} {_short(value)}")
    return value


def tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_LISTING:
        raise ProtocolError(f"'tags' is not a list of at most {MAX_LISTING} tags: {_short(value)}")
    for tag in value:
        if not is_valid_name(tag):
            raise ProtocolError(f"invalid tag {_short(tag)}")
    return sorted(set(value))


def session_info(value: Any, *, server: str) -> dict[str, Any]:
    """SessionInfo with only the wire fields; ``server`` forced to the backend's hostname."""
    obj = _object(value, "session info")
    return {
        "name": session_name(obj.get("name")),
        "server": server,
        "pid": _int(obj, "pid"),
        "command": _str(obj, "command"),
        "rows": _int(obj, "rows"),
        "cols": _int(obj, "cols"),
        "clients": _int(obj, "clients"),
        "tags": tags(obj.get("tags")),
        "last_activity_ms": _number(obj, "last_activity_ms"),
    }


def listing(value: Any, *, server: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ProtocolError(f"session listing is not a JSON array: {_short(value)}")
    if len(value) > MAX_LISTING:
        raise ProtocolError(f"session listing has {len(value)} entries (at most {MAX_LISTING} allowed)")
    return [session_info(item, server=server) for item in value]


def server_info(value: Any) -> dict[str, Any]:
    """``/server/info``: hostname checked, server_id required; ``uptime_s``/``capabilities`` optional."""
    obj = _object(value, "server info")
    hostname = obj.get("hostname")
    if not is_valid_hostname(hostname):
        raise ProtocolError(f"invalid hostname {_short(hostname)}")
    server_id = obj.get("server_id")
    if not isinstance(server_id, str) or not 0 < len(server_id) <= 128:
        raise ProtocolError(f"invalid server_id {_short(server_id)}")
    out: dict[str, Any] = {
        "hostname": hostname,
        "version": _str(obj, "version", limit=128),
        "server_id": server_id,
    }
    if obj.get("uptime_s") is not None:
        out["uptime_s"] = _number(obj, "uptime_s")
    caps = obj.get("capabilities")
    if caps is not None:
        if (
            not isinstance(caps, list)
            or len(caps) > 64
            or not all(isinstance(c, str) and 0 < len(c) <= 64 for c in caps)
        ):
            raise ProtocolError(f"'capabilities' is not a list of short strings: {_short(caps)}")
        out["capabilities"] = list(caps)
    return out


def _color(value: Any) -> dict[str, Any]:
    obj = _object(value, "color")
    if "indexed" in obj:
        n = obj["indexed"]
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 255:
            raise ProtocolError(f"invalid indexed color {_short(n)}")
        return {"indexed": n}
    rgb = obj.get("rgb")
    if isinstance(rgb, dict):
        out = {}
        for k in ("r", "g", "b"):
            c = rgb.get(k)
            if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 255:
                raise ProtocolError(f"invalid rgb color {_short(rgb)}")
            out[k] = c
        return {"rgb": out}
    raise ProtocolError(f"invalid color {_short(value)}")


def _span(value: Any) -> dict[str, Any]:
    obj = _object(value, "span")
    text = obj.get("text")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise ProtocolError(f"span without text: {_short(value)}")
    out: dict[str, Any] = {"text": text}
    for key in ("fg", "bg"):
        if obj.get(key) is not None:
            out[key] = _color(obj[key])
    for key in SPAN_FLAGS:
        if _bool(obj, key):
            out[key] = True
    return out


def lines(value: Any, *, limit: int = MAX_LINES) -> list[Any]:
    """Plain lines (strings) or styled lines (lists of spans); only known span keys are kept."""
    if not isinstance(value, list) or len(value) > limit:
        raise ProtocolError(f"'lines' is not a list of at most {limit} lines")
    out: list[Any] = []
    for line in value:
        if isinstance(line, str):
            if len(line) > MAX_TEXT:
                raise ProtocolError("a line is too long")
            out.append(line)
        elif isinstance(line, list):
            if len(line) > MAX_SPANS:
                raise ProtocolError(f"a styled line has {len(line)} spans")
            out.append([_span(s) for s in line])
        else:
            raise ProtocolError(f"a line is neither a string nor a list of spans: {_short(line)}")
    return out


def screen(value: Any) -> dict[str, Any]:
    """Screen object (WIRE.md §3), plus ``last_activity_ms`` when present."""
    obj = _object(value, "screen")
    cursor = _object(obj.get("cursor"), "cursor")
    out: dict[str, Any] = {
        "epoch": _int(obj, "epoch") or 0,
        "first_line_index": _int(obj, "first_line_index"),
        "total_lines": _int(obj, "total_lines"),
        "lines": lines(obj.get("lines"), limit=1000),
        "cursor": {
            "row": _int(cursor, "row", required=True),
            "col": _int(cursor, "col", required=True),
            "visible": bool(_bool(cursor, "visible")),
        },
        "cols": _int(obj, "cols", required=True),
        "rows": _int(obj, "rows", required=True),
        "alternate_active": bool(_bool(obj, "alternate_active")),
    }
    if obj.get("last_activity_ms") is not None:
        out["last_activity_ms"] = _number(obj, "last_activity_ms")
    return out


def scrollback(value: Any) -> dict[str, Any]:
    obj = _object(value, "scrollback")
    return {
        "epoch": _int(obj, "epoch") or 0,
        "lines": lines(obj.get("lines")),
        "total_lines": _int(obj, "total_lines", required=True),
        "offset": _int(obj, "offset", required=True),
    }


def idle(value: Any) -> dict[str, Any]:
    """Per-session idle result: ``{"screen", "scrollback_lines", "generation", "last_activity_ms"}``."""
    obj = _object(value, "idle result")
    return {
        "screen": screen(obj.get("screen")),
        "scrollback_lines": _int(obj, "scrollback_lines", required=True),
        "generation": _int(obj, "generation", required=True),
        "last_activity_ms": _number(obj, "last_activity_ms"),
    }


def idle_any(value: Any, *, server: str) -> dict[str, Any]:
    """Server-level idle result; ``server`` forced to the backend's hostname."""
    obj = _object(value, "idle result")
    return {
        "session": session_name(obj.get("session")),
        "server": server,
        "screen": screen(obj.get("screen")),
        "scrollback_lines": _int(obj, "scrollback_lines", required=True),
        "generation": _int(obj, "generation", required=True),
    }
