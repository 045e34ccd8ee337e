"""What a backend sends is checked and stripped before use (pure, no sockets)."""

from __future__ import annotations

import pytest

from wsh_nb.federation import sanitize
from wsh_nb.federation.sanitize import ProtocolError

INFO = {
    "name": "build",
    "server": "liar",
    "pid": 42,
    "command": "make",
    "rows": 24,
    "cols": 80,
    "clients": 0,
    "tags": ["z", "a", "a"],
    "last_activity_ms": 5,
    "evil": "<script>",
}


def test_session_info_strips_unknown_fields_and_forces_server():
    out = sanitize.session_info(INFO, server="build-1")
    assert out == {
        "name": "build",
        "server": "build-1",
        "pid": 42,
        "command": "make",
        "rows": 24,
        "cols": 80,
        "clients": 0,
        "tags": ["a", "z"],
        "last_activity_ms": 5,
    }


@pytest.mark.parametrize(
    ("patch", "says"),
    [
        ({"name": "../x"}, "invalid session name"),
        ({"name": "a b"}, "invalid session name"),
        ({"name": None}, "invalid session name"),
        ({"pid": "42"}, "'pid' is not an integer"),
        ({"rows": True}, "'rows' is not an integer"),
        ({"tags": ["ok", "no/slash"]}, "invalid tag"),
        ({"tags": "a"}, "'tags' is not a list"),
        ({"command": 3}, "'command' is not a string"),
        ({"last_activity_ms": -1}, "non-negative"),
    ],
)
def test_broken_session_info_is_refused(patch, says):
    with pytest.raises(ProtocolError) as err:
        sanitize.session_info({**INFO, **patch}, server="b")
    assert says in str(err.value)


def test_listing_limits():
    assert sanitize.listing([INFO] * 1000, server="b")[0]["server"] == "b"
    with pytest.raises(ProtocolError, match="1001 entries"):
        sanitize.listing([INFO] * 1001, server="b")
    with pytest.raises(ProtocolError, match="not a JSON array"):
        sanitize.listing({"sessions": []}, server="b")
    with pytest.raises(ProtocolError, match="not a JSON object"):
        sanitize.listing(["build"], server="b")


def test_server_info_hostname_checked():
    good = {
        "hostname": "b-1",
        "version": "1",
        "server_id": "abc",
        "uptime_s": 3.5,
        "capabilities": ["federation"],
        "junk": 1,
    }
    assert sanitize.server_info(good) == {k: v for k, v in good.items() if k != "junk"}
    for bad in ("has space", "", "-x", "a..b", "ünï", "x" * 64):
        with pytest.raises(ProtocolError, match="invalid hostname"):
            sanitize.server_info({**good, "hostname": bad})
    with pytest.raises(ProtocolError, match="server_id"):
        sanitize.server_info({**good, "server_id": None})


SCREEN = {
    "epoch": 0,
    "first_line_index": 0,
    "total_lines": 2,
    "cols": 80,
    "rows": 2,
    "cursor": {"row": 0, "col": 1, "visible": True},
    "alternate_active": False,
    "last_activity_ms": 3,
}


def test_screen_plain_and_styled():
    plain = sanitize.screen({**SCREEN, "lines": ["$ ls", ""], "extra": 1})
    assert plain["lines"] == ["$ ls", ""] and "extra" not in plain and plain["last_activity_ms"] == 3
    styled = sanitize.screen(
        {
            **SCREEN,
            "lines": [
                [{"text": "hi", "fg": {"indexed": 1}, "bold": True, "italic": False, "onclick": "x"}],
                [{"text": "", "bg": {"rgb": {"r": 1, "g": 2, "b": 3}}}],
            ],
        }
    )
    assert styled["lines"] == [
        [{"text": "hi", "fg": {"indexed": 1}, "bold": True}],
        [{"text": "", "bg": {"rgb": {"r": 1, "g": 2, "b": 3}}}],
    ]


@pytest.mark.parametrize(
    "lines",
    [[3], [[{"nottext": 1}]], [[{"text": "a", "fg": {"indexed": 300}}]], [[{"text": "a", "fg": "red"}]], "x"],
)
def test_broken_screen_lines_are_refused(lines):
    with pytest.raises(ProtocolError):
        sanitize.screen({**SCREEN, "lines": lines})


def test_scrollback_and_idle_shapes():
    sb = sanitize.scrollback({"epoch": 0, "lines": ["a"], "total_lines": 30, "offset": 0, "x": 1})
    assert sb == {"epoch": 0, "lines": ["a"], "total_lines": 30, "offset": 0}
    idle = sanitize.idle(
        {
            "screen": {**SCREEN, "lines": ["", ""]},
            "scrollback_lines": 0,
            "generation": 7,
            "last_activity_ms": 1,
        }
    )
    assert idle["generation"] == 7
    anyone = sanitize.idle_any(
        {
            "session": "s1",
            "server": "liar",
            "screen": {**SCREEN, "lines": ["", ""]},
            "scrollback_lines": 0,
            "generation": 2,
        },
        server="b-1",
    )
    assert anyone["server"] == "b-1" and anyone["session"] == "s1"
    with pytest.raises(ProtocolError):
        sanitize.idle_any({**anyone, "session": "../etc"}, server="b")
    with pytest.raises(ProtocolError, match="generation"):
        sanitize.idle({"screen": {**SCREEN, "lines": ["", ""]}, "scrollback_lines": 0})
