"""Wire-level rules shared by the server, the sessions and the federation client.

Names, tags and hostnames are checked here once, so the server (validating what users send) and the
sanitizer (validating what backends send) apply exactly the same rules.  JSON goes through orjson.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

from .errors import InvalidRequest, InvalidSessionName, InvalidTag

MAX_WAIT_CAP_MS = 300_000
BODY_LIMIT = 1 << 20
SCROLLBACK_LIMIT_CAP = 10_000
DEFAULT_ROWS, DEFAULT_COLS = 24, 80
FORMATS = ("styled", "plain")
# Boolean attributes of a styled span, in wire order; a span carries only those that are on.
SPAN_FLAGS = ("bold", "faint", "italic", "underline", "strikethrough", "blink", "inverse")

# CPython's \w is exactly ``str.isalnum() or "_"``, so this is the wire rule, checked in C (2.5x faster than a
# per-character loop; every name in every backend listing passes through here).
_NAME = re.compile(r"[\w.\-]{1,64}")


def is_valid_name(value: object) -> bool:
    """Session names and tags: 1–64 bytes of letters/digits (``str.isalnum``) or ``- _ .``."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None and len(value.encode()) <= 64


def check_name(value: object) -> str:
    if not is_valid_name(value):
        raise InvalidSessionName(f"invalid session name {value!r}: use 1-64 letters, digits, '-', '_' or '.'")
    return value  # type: ignore[return-value]


def check_tags(values: Iterable[object] | None) -> list[str]:
    """Validate tags and return them sorted and deduplicated."""
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InvalidTag("tags must be a list of strings")
    out = set()
    for tag in values:
        if not is_valid_name(tag):
            raise InvalidTag(f"invalid tag {tag!r}: use 1-64 letters, digits, '-', '_' or '.'")
        out.add(tag)
    return sorted(out)


def is_valid_hostname(value: object) -> bool:
    """1–253 bytes of dot-separated labels; each 1–63 ASCII letters/digits/hyphens, no edge hyphen."""
    if not isinstance(value, str) or not 0 < len(value) <= 253 or not value.isascii():
        return False
    for label in value.split("."):
        if not 0 < len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return False
        if not all(c.isalnum() or c == "-" for c in label):
            return False
    return True


def parse_tag_query(raw: str | None) -> list[str]:
    """``?tag=a, b,,c`` → ``["a", "b", "c"]`` (trimmed, empties dropped; OR semantics)."""
    if not raw:
        return []
    return [t.strip() for t in raw.split(",") if t.strip()]


def clamp_size(value: Any, default: int) -> int:
    """Rows/cols: absent → default; clamped to 1..1000."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest("rows and cols must be integers", status=422)
    return max(1, min(1000, value))


def check_format(value: str | None) -> str:
    fmt = value or "styled"
    if fmt not in FORMATS:
        raise InvalidRequest(f"unknown format {value!r}: use 'plain' or 'styled'")
    return fmt


def cap_wait(ms: int | None, default: int | None = None) -> int | None:
    if ms is None:
        return default
    return max(0, min(MAX_WAIT_CAP_MS, ms))


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
