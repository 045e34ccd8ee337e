"""BackendClient against a real hostile HTTP server: error mapping, limits, sanitizing, auth header."""

from __future__ import annotations

import asyncio
import time

import pytest

from wsh_nb.errors import BadGateway, ServerUnavailable, SessionNotFound, WshError
from wsh_nb.federation import BackendClient

from .hostile import json_reply, raw_reply, slow_reply, streaming_reply

pytestmark = pytest.mark.anyio

GOOD = {
    "name": "build",
    "server": "whatever",
    "pid": 1,
    "command": None,
    "rows": 24,
    "cols": 80,
    "clients": 0,
    "tags": ["ci"],
    "last_activity_ms": 10,
}


@pytest.fixture
async def pair(hostile):
    server = await hostile("evil-1")
    problems: list[str] = []
    client = BackendClient(
        server.url,
        token="per-server-token-123",
        connect_timeout=1.0,
        request_timeout=2.0,
        on_protocol_error=problems.append,
    )
    client.hostname = "evil-1"
    yield server, client, problems
    await client.aclose()


async def test_listing_is_sanitized_and_server_forced(pair):
    server, client, problems = pair
    server.sessions = [{**GOOD, "extra": {"nested": 1}}]
    assert await client.list_sessions() == [{**GOOD, "server": "evil-1"}]
    assert problems == []


async def test_bearer_token_is_sent(pair):
    server, client, _ = pair
    await client.list_sessions(["a", "b"])
    assert server.requests[-1] == ("GET", "/sessions", "Bearer per-server-token-123")


async def test_no_token_no_header(hostile):
    server = await hostile()
    client = BackendClient(server.url)
    try:
        await client.info()
    finally:
        await client.aclose()
    assert server.requests[-1][2] is None
    assert "token" not in repr(client)


async def test_non_json_is_bad_gateway_and_reported(pair):
    server, client, problems = pair
    server.replies[("GET", "/sessions")] = raw_reply(b"<html>hello</html>")
    with pytest.raises(BadGateway) as err:
        await client.list_sessions()
    assert "evil-1" in err.value.message and "non-JSON" in err.value.message
    assert err.value.status == 502 and problems == [err.value.message]


@pytest.mark.parametrize("with_length", [True, False])
async def test_50_mib_body_is_refused_without_reading_it_all(pair, with_length):
    server, client, _ = pair
    server.replies[("GET", "/sessions")] = streaming_reply(50 << 20, with_length=with_length, server=server)
    started = time.monotonic()
    with pytest.raises(BadGateway) as err:
        await client.list_sessions()
    assert "body" in err.value.message and "16777216" in err.value.message
    assert time.monotonic() - started < 2
    assert server.bytes_sent < 40 << 20  # we stopped reading; the server could not push it all


async def test_hostile_names_and_huge_listing_are_refused(pair):
    server, client, problems = pair
    server.sessions = [{**GOOD, "name": "../x"}]
    with pytest.raises(BadGateway, match="invalid session name"):
        await client.list_sessions()
    server.sessions = [{**GOOD, "name": f"s{i}"} for i in range(100_000)]
    with pytest.raises(BadGateway, match="100000 entries"):
        await client.list_sessions()
    assert len(problems) == 2


async def test_hostname_with_spaces_in_info_is_refused(pair):
    server, client, _ = pair
    server.info["hostname"] = "evil host"
    with pytest.raises(BadGateway, match="invalid hostname"):
        await client.info()


async def test_wsh_error_body_becomes_our_class_with_server(pair):
    server, client, _ = pair
    server.replies[("GET", "/sessions/nope")] = json_reply(
        {"error": {"code": "session_not_found", "message": "session 'nope' not found"}}, 404
    )
    with pytest.raises(SessionNotFound) as err:
        await client.get_session("nope")
    assert err.value.server == "evil-1" and err.value.status == 404
    weird = {"error": {"code": "weird_code", "message": "m"}}
    server.replies[("DELETE", "/sessions/x")] = json_reply(weird, 418)
    with pytest.raises(WshError) as err2:
        await client.kill_session("x")
    assert err2.value.code == "weird_code" and err2.value.status == 418


async def test_error_status_without_wsh_body_is_bad_gateway(pair):
    server, client, _ = pair
    server.replies[("DELETE", "/sessions/x")] = raw_reply(b"Internal Server Error", 500)
    with pytest.raises(BadGateway, match="HTTP 500"):
        await client.kill_session("x")
    server.replies[("DELETE", "/sessions/x")] = json_reply({"oops": 1}, 500)
    with pytest.raises(BadGateway, match="without a wsh error body"):
        await client.kill_session("x")


async def test_204_is_none_and_input_bytes_pass_verbatim(pair):
    server, client, _ = pair
    seen: list[bytes] = []

    async def reply(request):
        from aiohttp import web

        seen.append(await request.read())
        return web.Response(status=204)

    server.replies[("POST", "/sessions/a.b/input")] = reply
    assert await client.send_input("a.b", b"\x03ls\r\n\xff") is None
    assert seen == [b"\x03ls\r\n\xff"]


async def test_session_names_are_quoted_in_paths(pair):
    server, client, _ = pair
    server.replies[("GET", "/sessions/weird%name")] = json_reply({**GOOD, "name": "ok"})
    assert (await client.get_session("weird%name"))["name"] == "ok"
    assert server.raw_paths[-1] == "/sessions/weird%25name"


async def test_unreachable_backend_is_server_unavailable(hostile):
    server = await hostile()
    url = server.url
    await server.close()
    client = BackendClient(url, connect_timeout=1.0)
    try:
        with pytest.raises(ServerUnavailable) as err:
            await client.info()
    finally:
        await client.aclose()
    assert url in err.value.message and "connect" in err.value.message


async def test_timeout_is_server_unavailable(pair):
    server, client, _ = pair
    release = asyncio.Event()
    server.replies[("GET", "/sessions")] = slow_reply(server, release)
    try:
        with pytest.raises(ServerUnavailable, match=r"did not answer GET /sessions within 0\.2 s"):
            await client.list_sessions(timeout=0.2)
    finally:
        release.set()


async def test_screen_with_unknown_span_keys_is_stripped(pair):
    server, client, _ = pair
    screen = {
        "epoch": 0,
        "first_line_index": 0,
        "total_lines": 1,
        "rows": 1,
        "cols": 80,
        "cursor": {"row": 0, "col": 0, "visible": True},
        "alternate_active": False,
        "lines": [[{"text": "x", "href": "javascript:alert(1)"}]],
        "last_activity_ms": 1,
    }
    server.replies[("GET", "/sessions/s/screen")] = json_reply(screen)
    got = await client.screen("s", "styled")
    assert got["lines"] == [[{"text": "x"}]]
