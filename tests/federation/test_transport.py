"""The keep-alive HTTP/1.1 transport against tiny real servers that misbehave in precise ways."""

from __future__ import annotations

import asyncio
import time

import pytest

from wsh_nb.federation.transport import (
    BadResponse,
    BodyTooLarge,
    ConnectFailed,
    ConnectionLost,
    RequestTimeout,
    Transport,
)

pytestmark = pytest.mark.anyio

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"


class RawServer:
    """``handler(reader, writer, connection_number)`` per connection, on 127.0.0.1:0."""

    def __init__(self, handler):
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self):
        async def on_connect(reader, writer):
            self.connections += 1
            try:
                await self.handler(self, reader, writer, self.connections)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def read_request(self, reader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        return head


def transport(url: str, **kw) -> Transport:
    return Transport(
        url,
        headers={"Authorization": "Bearer t0ken"},
        connect_timeout=2.0,
        max_body=kw.pop("max_body", 1 << 20),
        **kw,
    )


async def test_requests_reuse_one_kept_alive_connection_and_send_our_headers():
    async def handler(srv, reader, writer, n):
        while True:
            await srv.read_request(reader)
            writer.write(OK)
            await writer.drain()

    async with RawServer(handler) as srv:
        t = transport(srv.url + "/prefix/")
        for _ in range(5):
            assert await t.request("GET", "/sessions", query={"tag": "a,b"}, timeout=5) == (200, b"[]")
        assert srv.connections == 1
        first = srv.requests[0].decode()
        assert first.startswith("GET /prefix/sessions?tag=a%2Cb HTTP/1.1\r\n")
        assert "\r\nAuthorization: Bearer t0ken\r\n" in first and f"Host: {srv.url[7:]}" in first
        t.close()


async def test_a_stale_kept_alive_connection_is_retried_once_on_a_fresh_one():
    async def handler(srv, reader, writer, n):
        await srv.read_request(reader)
        if n == 1:
            writer.write(OK)
            await writer.drain()
            await srv.read_request(reader)  # the second request on this connection: hang up unanswered
            return
        writer.write(OK)
        await writer.drain()

    async with RawServer(handler) as srv:
        t = transport(srv.url)
        assert (await t.request("GET", "/a", timeout=5))[0] == 200
        assert (await t.request("POST", "/b", body=b"x", timeout=5))[0] == 200
        assert srv.connections == 2 and len(srv.requests) == 3
        t.close()


async def test_a_fresh_connection_that_breaks_is_not_retried():
    async def handler(srv, reader, writer, n):
        await srv.read_request(reader)  # and hang up

    async with RawServer(handler) as srv:
        t = transport(srv.url)
        with pytest.raises(ConnectionLost):
            await t.request("GET", "/x", timeout=5)
        assert srv.connections == 1


async def test_chunked_bodies_are_assembled():
    async def handler(srv, reader, writer, n):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with RawServer(handler) as srv:
        t = transport(srv.url)
        assert await t.request("GET", "/c", timeout=5) == (200, b"[1,2]")
        t.close()


async def test_a_silent_backend_times_out_and_the_connection_is_dropped():
    async def handler(srv, reader, writer, n):
        await srv.read_request(reader)
        await reader.read()  # never answer

    async with RawServer(handler) as srv:
        t = transport(srv.url)
        start = time.monotonic()
        with pytest.raises(RequestTimeout):
            await t.request("GET", "/slow", timeout=0.3)
        assert 0.3 <= time.monotonic() - start < 2
        assert t._take_idle() is None


async def test_a_cancelled_request_drops_its_connection():
    async def handler(srv, reader, writer, n):
        await srv.read_request(reader)
        await reader.read()

    async with RawServer(handler) as srv:
        t = transport(srv.url)
        task = asyncio.ensure_future(t.request("GET", "/idle", timeout=30))
        while not srv.requests:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert t._take_idle() is None


async def test_oversized_bodies_stop_at_the_limit():
    async def declared(srv, reader, writer, n):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n" + b" " * 1000)
        await writer.drain()
        await reader.read()

    async with RawServer(declared) as srv:
        t = transport(srv.url, max_body=4096)
        with pytest.raises(BodyTooLarge, match="5000000"):
            await t.request("GET", "/big", timeout=5)


async def test_garbage_is_a_bad_response_and_refused_ports_fail_to_connect():
    async def handler(srv, reader, writer, n):
        await srv.read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with RawServer(handler) as srv:
        t = transport(srv.url)
        with pytest.raises(BadResponse):
            await t.request("GET", "/", timeout=5)
    dead = srv.url  # the server is closed now: nothing listens there
    with pytest.raises(ConnectFailed):
        await transport(dead).request("GET", "/", timeout=5)
