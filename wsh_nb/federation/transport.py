"""HTTP/1.1 requests to one backend over a pool of keep-alive connections, parsed by httptools.

Why not a general client: every hub operation is one small request to a known backend, and on two cores
the client's CPU per call decides how fast a fan-out over 32 backends can be.  aiohttp spends ~118 µs of
CPU per call here; this transport ~54 µs (``bench/fanout.py`` shows the effect).  It does only what the
wire needs: one request per connection at a time, Content-Length or chunked responses (httptools,
the parser uvicorn uses), a hard body limit, one timer per request, TLS for ``https://``.

Failures are raised as the small tree below; ``BackendClient`` maps them to the wsh error tree once.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlencode, urlsplit

import httptools


class TransportError(Exception):
    """Base of what a request can fail with; ``str()`` says what happened."""


class ConnectFailed(TransportError):
    """No connection could be made (refused, unreachable, connect timeout)."""


class RequestTimeout(TransportError):
    """The backend did not finish answering within the request's timeout."""


class ConnectionLost(TransportError):
    """The connection broke while the request was under way."""


class BodyTooLarge(TransportError):
    """The response body is over the limit; reading stopped there and the connection was dropped."""


class BadResponse(TransportError):
    """What came back is not HTTP/1.1."""


class _Connection(asyncio.Protocol):
    """One connection; at most one request in flight."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.received = False  # any byte of the current response
        self.closed = False
        self._header_name = b""

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(BadResponse(f"broken HTTP response ({exc})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionLost("the backend closed the connection"))

    # -- httptools callbacks ----------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-length" and value.strip().isdigit() and int(value) > self.max_body:
            self._fail(BodyTooLarge(f"sent a {int(value)}-byte body (limit {self.max_body})"))

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.max_body:
            self._fail(BodyTooLarge(f"sent a body over {self.max_body} bytes"))
            return
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), b"".join(self.chunks)))
        if not self.parser.should_keep_alive():
            self.close()

    # -- ours -------------------------------------------------------------------------------------
    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.chunks, self.size, self.received = [], 0, False
        self.transport.write(request)
        return self.waiter

    def _fail(self, exc: TransportError) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if not isinstance(exc, ConnectionLost):
            self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Transport:
    """Requests to ``address`` (``http[s]://host[:port][/prefix]``), connections kept alive between them."""

    def __init__(
        self, address: str, *, headers: dict[str, str], connect_timeout: float, max_body: int
    ) -> None:
        url = urlsplit(address)
        self.host = url.hostname or ""
        self.tls = url.scheme == "https"
        self.port = url.port or (443 if self.tls else 80)
        self.prefix = url.path.rstrip("/")
        host_header = f"[{self.host}]" if ":" in self.host else self.host
        if url.port is not None:
            host_header += f":{url.port}"
        lines = [f"Host: {host_header}"] + [f"{k}: {v}" for k, v in headers.items()]
        self._head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        self.connect_timeout = connect_timeout
        self.max_body = max_body
        self._idle: list[_Connection] = []
        self._ssl: ssl.SSLContext | None = ssl.create_default_context() if self.tls else None
        self.closed = False

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(self.max_body),
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self.tls else None,
                ),
                self.connect_timeout,
            )
        except asyncio.TimeoutError:
            raise ConnectFailed(f"no connection within {self.connect_timeout} s") from None
        except OSError as exc:
            raise ConnectFailed(exc.strerror or str(exc)) from None
        return conn

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn
        return None

    def _encode(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None,
        body: bytes | None,
        content_type: str | None,
    ) -> bytes:
        target = self.prefix + path
        if query:
            target += "?" + urlencode(query)
        head = f"{method} {target} HTTP/1.1\r\n".encode("latin-1") + self._head
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n".encode("latin-1")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head += b"Content-Length: %d\r\n" % len(body or b"")
        return head + b"\r\n" + (body or b"")

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        timeout: float,
    ) -> tuple[int, bytes]:
        """``(status, body)``.  Raises a ``TransportError``; a cancelled caller drops the connection."""
        if self.closed:
            raise ConnectionLost("the client is closed")
        request = self._encode(method, path, query, body, content_type)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        conn = self._take_idle()
        reused = conn is not None
        while True:
            if conn is None:
                conn = await self._connect()
            waiter = conn.send(request)
            timer = loop.call_at(
                deadline, _expire, waiter, RequestTimeout(f"no complete answer within {timeout:g} s")
            )
            try:
                result = await waiter
            except ConnectionLost:
                # A kept-alive connection the backend had just closed: nothing was read, so the request
                # never reached a handler; try once more on a fresh connection.
                if reused and not conn.received and loop.time() < deadline:
                    conn, reused = None, False
                    continue
                raise
            except BaseException:  # timeout, cancellation, bad response: the connection's state is unknown
                conn.close()
                raise
            finally:
                timer.cancel()
            if conn.closed or self.closed:
                conn.close()
            else:
                self._idle.append(conn)
            return result

    def close(self) -> None:
        self.closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()


def _expire(waiter: asyncio.Future[tuple[int, bytes]], exc: TransportError) -> None:
    if not waiter.done():
        waiter.set_exception(exc)
