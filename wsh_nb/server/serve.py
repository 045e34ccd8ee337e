"""``wsh-nb serve``: one process, one AsyncHub, its HTTP face, and a clean death on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import secrets
import signal
import string
import sys

from ..errors import WshError
from ..hub import AsyncHub
from .runner import bind_socket, serve_hub, url_of

MIN_TOKEN = 16


def parse_bind(value: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"--bind wants HOST:PORT (e.g. 127.0.0.1:8080), got {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bind",
        type=parse_bind,
        default=("127.0.0.1", 8080),
        metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1:8080; port 0 picks a free one)",
    )
    parser.add_argument("--hostname", help="this server's name in a cluster (default: config, then system)")
    parser.add_argument("--token", help="require 'Authorization: Bearer TOKEN' (or set WSH_TOKEN)")
    parser.add_argument("--config", help="federation config file (TOML)")
    parser.add_argument("--ephemeral", action="store_true", help="exit when the last session ends")
    parser.add_argument("--max-sessions", type=int, default=256)
    parser.add_argument("--ping-interval", type=float, default=0.5, help="backend ping interval, s")
    parser.add_argument("--pong-timeout", type=float, default=1.0, help="backend pong deadline, s")
    parser.add_argument("--open-timeout", type=float, default=2.0, help="backend WebSocket open timeout, s")
    parser.add_argument("--backoff-max", type=float, default=1.0, help="backend reconnect backoff cap, s")
    parser.add_argument(
        "--parent-pid",
        type=int,
        metavar="PID",
        help="exit when process PID exits (launchers pass theirs: no orphans if they crash)",
    )


def resolve_token(args: argparse.Namespace, host: str) -> str | None:
    token = args.token or os.environ.get("WSH_TOKEN") or None
    if token is not None and len(token) < MIN_TOKEN:
        raise SystemExit(f"wsh-nb serve: the token must be at least {MIN_TOKEN} characters")
    if token is None and not is_loopback(host):
        token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        print(
            f"wsh-nb: bound to {host}, so a token is required; generated (shown once): {token}",
            file=sys.stderr,
            flush=True,
        )
    return token


def watch_parent(loop: asyncio.AbstractEventLoop, pid: int, stop: asyncio.Event) -> None:
    """Set ``stop`` when ``pid`` exits: a pidfd becomes readable then (no polling, no thread)."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:  # already gone
        stop.set()
        return
    loop.add_reader(fd, stop.set)


async def serve(args: argparse.Namespace) -> int:
    host, port = args.bind
    token = resolve_token(args, host)
    try:
        hub = AsyncHub(
            hostname=args.hostname,
            token=token,
            config=args.config,
            max_sessions=args.max_sessions,
            ping_interval=args.ping_interval,
            pong_timeout=args.pong_timeout,
            open_timeout=args.open_timeout,
            backoff_max=args.backoff_max,
        )
    except WshError as exc:
        print(f"wsh-nb serve: {exc}", file=sys.stderr)
        return 2
    if hub.config is not None and hub.config.world_readable:
        print(
            f"wsh-nb: warning: {hub.config.path} is readable by every user and may hold tokens; "
            f"run: chmod 600 {hub.config.path}",
            file=sys.stderr,
            flush=True,
        )
    hub.set_persistent(not args.ephemeral)
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        print(f"wsh-nb serve: cannot bind {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.parent_pid:
        watch_parent(loop, args.parent_pid, stop)

    def on_event(event: dict) -> None:
        if event["event"] == "session_destroyed" and not hub.persistent and len(hub.sessions) == 0:
            stop.set()

    hub.events.add_callback(on_event)
    await hub.start()
    running = await serve_hub(hub, sock=sock)
    print(f"wsh-nb listening on {url_of(sock)}", flush=True)
    waiter = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiter, running.done}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    # Kill sessions first so long-polls return, then stop serving, then the federation.
    hub.sessions.close_all()
    await running.aclose()
    await hub.aclose()
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(serve(args))
    return uvloop.run(serve(args))
