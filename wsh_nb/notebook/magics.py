"""IPython magics: ``%load_ext wsh_nb``, the ``%wsh`` family and ``%%wsh send``.

Modelled on ipyparallel's ``%px`` family: flag bundles are plain decorators stacking
``magic_arguments.argument(...)``; tri-state flags default to ``None`` = "use the configured default"
(``%config WshMagics.timeout_ms = 200``); the one magic ``%wsh`` is thin and funnels every subcommand
through ``WshMagics._dispatch``, which parses the line with ``shlex`` (never ``eval``) and turns every
``WshError`` into one red line (``_render_traceback_``) that says what to do.  ``@no_var_expand`` keeps
``$HOME`` and ``{x}`` for the remote shell.

What marks a cell as failed: bad arguments (IPython's ``UsageError``), a missing session or server, an
unreachable backend, a timeout, a failed ``--wait``, an interrupt.  What does not: an empty listing, a
listing that left out an unhealthy server (a note on stderr), ``%wsh dashboard`` before the widget exists.

Live output (``display(..., display_id=True)`` updated in place) is turned off by ``WSH_NONINTERACTIVE=1``
(or ``%config WshMagics.noninteractive = True``): then every subcommand prints plain, stable text.

Fan-out (``%%wsh send --tag``, ``%wsh kill --tag``, ``%wsh idle --on HOST``) runs the hub's async twins on a
private, short-lived loop thread (``_Batch``), so the kernel's main thread stays free to refresh displays and
to take Ctrl-C; cancelling a batch cancels the hub-side work.  The kernel's hub is ``wsh_nb.get_hub()``,
kept outside this module so ``%reload_ext wsh_nb`` re-registers the magics on the same hub.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import html
import os
import re
import shlex
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from IPython.core import magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.display import display
from traitlets import Bool, Float, Integer

from ..errors import (
    HealthTimeout,
    IdleTimeout,
    NoSessions,
    ServerNotFound,
    ServerUnavailable,
    SessionNotFound,
    WshError,
)
from .facade import Hub, IdleResult, get_hub

argument = magic_arguments.argument

RED = "\x1b[31m"
YELLOW = "\x1b[33m"
RESET = "\x1b[0m"
_SLOT = "_wsh_nb_magics"  # the registered WshMagics, kept on the shell (module re-imports can't lose it)
_STASH = "_wsh_nb_magics_config"  # config values carried across %reload_ext


def noninteractive_env() -> bool:
    """Whether ``WSH_NONINTERACTIVE`` asks for plain text (anything but empty/0/false/no)."""
    return os.environ.get("WSH_NONINTERACTIVE", "").strip().lower() not in ("", "0", "false", "no", "off")


def _color(text: str, color: str, plain: bool) -> str:
    return text if plain else f"{color}{text}{RESET}"


# -- errors -------------------------------------------------------------------------------------
class WshMagicError(Exception):
    """A magic failed: IPython shows ``line`` alone (red), no traceback, and marks the cell failed."""

    plain = False  # no ANSI colour (WSH_NONINTERACTIVE)

    def __init__(self, line: str, *, plain: bool = False) -> None:
        super().__init__(line)
        self.line = line
        self.plain = plain

    def __str__(self) -> str:
        return self.line

    def _render_traceback_(self) -> list[str]:
        return [_color(self.line, RED, self.plain)]


_MAGIC_CLASSES: dict[type, type] = {}


def _magic_error(exc: WshError, line: str, plain: bool) -> WshMagicError:
    """A ``WshMagicError`` that is also an ``exc``'s class, so ``except IdleTimeout`` still works."""
    cls = type(exc)
    magic_cls = _MAGIC_CLASSES.get(cls)
    if magic_cls is None:
        magic_cls = _MAGIC_CLASSES[cls] = type(cls.__name__, (WshMagicError, cls), {"__module__": __name__})
    err = magic_cls(line, plain=plain)
    err.message, err.server = line, exc.server  # type: ignore[attr-defined]
    err.code = exc.code  # type: ignore[attr-defined]
    return err


class WshInterrupted(KeyboardInterrupt):
    """Ctrl-C during a wait: one line saying which sessions got Ctrl-C; the cell is marked failed."""

    def __init__(self, line: str, signalled: list[str], *, plain: bool = False) -> None:
        super().__init__(line)
        self.line = line
        self.signalled = signalled
        self.plain = plain

    def _render_traceback_(self) -> list[str]:
        return [_color(self.line, RED, self.plain)]


# -- flag bundles -------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(text) from None
    if value <= 0:
        raise ValueError(text)
    return value


_positive_int.__name__ = "positive integer"


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(text)
    return value


_positive_float.__name__ = "positive number"


def on_flag(func: Callable[..., Any]) -> Callable[..., Any]:
    return argument("--on", metavar="HOST", default=None, help="the server (hostname) it lives on")(func)


def tag_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    return argument(
        "--tag", metavar="T", action="append", default=None, help="select by tag (repeat: any of them)"
    )(func)


def idle_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    for flag in (
        argument("--max-wait-ms", metavar="N", type=_positive_int, default=None,
                 help="give up after N ms (default: %%config WshMagics.max_wait_ms)"),
        argument("--timeout-ms", metavar="N", type=_positive_int, default=None,
                 help="N ms of silence count as idle (default: %%config WshMagics.timeout_ms)"),
    ):  # fmt: skip
        func = flag(func)
    return func


def signal_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    for flag in (
        argument("--no-signal-on-interrupt", dest="signal_on_interrupt", action="store_false",
                 help="on Ctrl-C, leave the sessions alone"),
        argument("--signal-on-interrupt", dest="signal_on_interrupt", action="store_const", const=True,
                 default=None, help="on Ctrl-C, send Ctrl-C to the sessions still running (default on)"),
    ):  # fmt: skip
        func = flag(func)
    return func


def _parser_of(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return magic_arguments.magic_arguments(name=f"wsh {name}")


# -- the help -----------------------------------------------------------------------------------
_SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("servers", "%wsh servers", "every server (this hub first) as a DataFrame: health, latency, sessions"),
    ("add", "%wsh add http://10.0.1.10:8080 --token-env BUILD_TOKEN",
     "register a backend (--token T or --token-env VAR; --wait: until healthy)"),
    ("remove", "%wsh remove build-1", "deregister a backend; its sessions keep running on it"),
    ("server", "%wsh server build-1", "one server's entry as a dict"),
    ("wait", "%wsh wait build-1 test-1 --timeout 20", "wait until backends are healthy (none named: all)"),
    ("sessions", "%wsh sessions --tag ci --on build-1", "sessions across the cluster as a DataFrame"),
    ("create", "%wsh create build --on build-1 --tag ci --command 'make -j4' --cwd /src",
     "create a session; returns its Session handle"),
    ("screen", "%wsh screen build  (or build@build-1)", "the session's screen, with colours"),
    ("idle", "%wsh idle --tag ci --timeout-ms 500 --max-wait-ms 60000",
     "wait until a session (NAME, or the first of a tag/server/the cluster) is quiet; an IdleResult"),
    ("kill", "%wsh kill build   |   %wsh kill --tag ci", "kill one session, or every session with a tag"),
    ("dashboard", "%wsh dashboard", "the live cluster dashboard widget"),
    ("help", "%wsh help create", "this list, or one subcommand's flags"),
    ("send", "%%wsh send build --wait   |   %%wsh send --tag ci --wait",
     "(cell magic) type the cell body into a session, or every session with a tag, on every server"),
]  # fmt: skip

HELP = (
    "%wsh: drive terminal sessions across the wsh federation from this kernel's hub.\n\n"
    + "\n".join(f"  {name:<10}{what}\n  {'':<10}e.g. {example}" for name, example, what in _SUBCOMMANDS)
    + "\n\nNAME@HOST works wherever NAME does.  %wsh help SUBCOMMAND lists its flags.  Defaults:"
    " %config WshMagics (timeout_ms, max_wait_ms, health_timeout, signal_on_interrupt, noninteractive).\n"
    "%%wsh send flags: NAME | --tag T [--on HOST] [--wait] [--timeout-ms N] [--max-wait-ms N]"
    " [--no-newline] [--no-signal-on-interrupt] [-o VAR]"
)


# -- output objects -----------------------------------------------------------------------------
class _Panel:
    """One output area of a fan-out: ``server/session``, a status, and the screen once known."""

    def __init__(self, label: str, status: str, screen: Any = None, *, failed: bool = False) -> None:
        self.label, self.status, self.screen, self.failed = label, status, screen, failed

    def _repr_html_(self) -> str:
        color = "#cd3131" if self.failed else "#6a9955"
        head = (
            f'<div style="font-family:monospace;font-weight:bold">{html.escape(self.label)} '
            f'<span style="color:{color};font-weight:normal">{html.escape(self.status)}</span></div>'
        )
        body = self.screen._repr_html_() if self.screen is not None else ""
        return f'<div class="wsh-panel">{head}{body}</div>'

    def __repr__(self) -> str:
        text = f"--- {self.label}: {self.status} ---"
        if self.screen is not None:
            text += "\n" + repr(self.screen)
        return text


class _Text:
    """A plain line for a display area (progress)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _idle_plain(result: IdleResult, p: Any, cycle: bool) -> None:
    p.text(f"--- {result.server}/{result.session}: idle (generation {result.generation}) ---\n")
    p.text(repr(result.screen))


def _idle_html(result: IdleResult) -> str:
    return _Panel(f"{result.server}/{result.session}", f"idle (generation {result.generation})",
                  result.screen)._repr_html_()  # fmt: skip


# -- fan-out ------------------------------------------------------------------------------------
class _Batch:
    """A private asyncio loop in a short-lived thread, for concurrent async-twin calls from the main thread.

    ``submit`` returns a ``concurrent.futures.Future``; ``close()`` cancels whatever still runs (which
    cancels the hub-side tasks too), stops the loop and joins the thread.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="wsh-magic-batch", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], Awaitable[Any]]) -> concurrent.futures.Future[Any]:
        async def run() -> Any:
            return await fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop)

    async def _cancel_all(self) -> None:
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._cancel_all(), self._loop).result(3.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(3.0)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> _Batch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wait_any(futures: Iterable[concurrent.futures.Future[Any]], timeout: float) -> None:
    """Wait (in slices, so Ctrl-C lands) until one of ``futures`` is done or ``timeout`` passes."""
    pending = [f for f in futures if not f.done()]
    if pending:
        concurrent.futures.wait(pending, timeout=min(timeout, 0.1), return_when="FIRST_COMPLETED")


class _Target:
    """A session a magic acts on."""

    def __init__(self, name: str, server: str) -> None:
        self.name, self.server = name, server
        self.label = f"{server}/{name}"
        self.handle: Any = None  # its DisplayHandle (interactive)
        self.future: concurrent.futures.Future[Any] | None = None


# -- the magics ---------------------------------------------------------------------------------
@magics_class
class WshMagics(Magics):
    """``%wsh`` / ``%%wsh``; defaults are traits: ``%config WshMagics.timeout_ms = 200``."""

    timeout_ms = Integer(500, help="ms of silence that count as idle (--timeout-ms)").tag(config=True)
    max_wait_ms = Integer(30000, help="ms an idle wait may take before it fails (--max-wait-ms)").tag(
        config=True
    )
    health_timeout = Float(10.0, help="seconds %wsh wait waits for backends (--timeout)").tag(config=True)
    signal_on_interrupt = Bool(
        True, help="on Ctrl-C during a --wait, send Ctrl-C to the sessions still running"
    ).tag(config=True)
    refresh_ms = Integer(300, help="ms between live screen refreshes during a --wait").tag(config=True)
    noninteractive = Bool(
        False, help="no live displays or progress, plain stable text (also: WSH_NONINTERACTIVE=1)"
    ).tag(config=True)

    def __init__(self, shell: Any = None, *, hub: Hub | None = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self._hub = hub
        self._secrets: set[str] = set()

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def hub(self) -> Hub:
        """The hub these magics drive: the one given, else the kernel's (``wsh_nb.get_hub()``)."""
        return self._hub if self._hub is not None else get_hub()

    @property
    def plain(self) -> bool:
        return self.noninteractive or noninteractive_env()

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return re.sub(r"(?i)(bearer\s+)\S+", r"\1***", text)

    def _note(self, text: str) -> None:
        """A line on stderr that does not fail the cell."""
        print(_color(self._scrub(text), YELLOW, self.plain), file=sys.stderr)

    def _say(self, text: str) -> None:
        print(self._scrub(text))

    def _fail(self, text: str) -> WshMagicError:
        return WshMagicError(self._scrub(text), plain=self.plain)

    @line_cell_magic
    @no_var_expand
    def wsh(self, line: str = "", cell: str | None = None) -> Any:
        return self._dispatch(line, cell)

    wsh.__doc__ = HELP

    def _dispatch(self, line: str, cell: str | None) -> Any:
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot split {line!r}: {exc}; quote arguments with '…'") from None
        if not argv:
            if cell is not None:
                raise UsageError("%%wsh needs a subcommand: %%wsh send NAME (or --tag T) on the first line")
            print(HELP)
            return None
        sub, rest = argv[0], argv[1:]
        handler = getattr(self, f"_sub_{sub}", None) if re.fullmatch(r"[a-z]+", sub) else None
        if handler is None:
            names = ", ".join(name for name, _, _ in _SUBCOMMANDS)
            raise UsageError(f"unknown subcommand {sub!r}; use one of: {names} (%wsh help shows examples)")
        if sub == "send" and cell is None:
            raise UsageError(
                "send types a cell body: put %%wsh send NAME (or --tag T) on a cell's first line"
            )
        if sub != "send" and cell is not None:
            raise UsageError(f"only send is a cell magic; write %wsh {sub} … as a line magic")
        if "-h" in rest or "--help" in rest:
            print(handler.parser.format_help())
            return None
        args = handler.parser.parse_args(rest)
        try:
            return handler(args, cell) if sub == "send" else handler(args)
        except WshError as exc:
            if isinstance(exc, WshMagicError):
                raise
            raise _magic_error(exc, self._scrub(self._explain(exc, args)), self.plain) from exc

    # -- error lines ----------------------------------------------------------------------------
    def _registered(self) -> list[str]:
        frame = self.hub.servers()
        rows = frame[frame["address"] != "local"]
        return [
            h if isinstance(h, str) and h else a
            for h, a in zip(rows["hostname"], rows["address"], strict=True)
        ]

    def _explain(self, exc: WshError, args: Any) -> str:
        host = getattr(args, "on", None) or getattr(args, "host", None)
        name = getattr(args, "name", None)
        if isinstance(name, str) and "@" in name:
            name, _, at = name.rpartition("@")
            host = host or at
        if isinstance(exc, ServerNotFound):
            registered = ", ".join(self._registered()) or "none"
            handle = host if isinstance(host, str) else (exc.server or "?")
            return (
                f"server {handle!r} is not registered; registered: {registered} — pick one, or register it"
                " with %wsh add URL"
            )
        if isinstance(exc, SessionNotFound):
            if host or exc.server:
                where = host or exc.server
                return (
                    f"no session {name!r} on {where} (it may have exited); %wsh sessions --on {where} lists "
                    "what is there"
                )
            return (
                f"no session {name!r} on the hub's own server {self.hub.hostname!r}; for one on a backend "
                f"write {name}@HOST or --on HOST (%wsh sessions lists every session)"
            )
        if isinstance(exc, ServerUnavailable):
            where = exc.server or host or "HOST"
            return exc.message.replace("(wait_healthy)", f"(%wsh wait {where})")
        if isinstance(exc, IdleTimeout):
            who = f"{name}@{host}: " if name and host else (f"{name}: " if name else "")
            if getattr(args, "fanout", False):
                who = ""  # the caller labels it server/session
            return who + exc.message.replace(
                "max_wait_ms or lower timeout_ms", "--max-wait-ms or lower --timeout-ms"
            )
        if isinstance(exc, NoSessions):
            return f"{exc.message}; %wsh sessions lists what exists"
        return exc.message

    # -- helpers --------------------------------------------------------------------------------
    def _target(self, name: str, on: str | None) -> tuple[str, str | None]:
        if "@" in name:
            bare, _, at = name.rpartition("@")
            if on is not None and on != at:
                raise UsageError(f"{name} names server {at!r} but --on says {on!r}; give one of them")
            return bare, at
        return name, on

    def _waits(self, args: Any) -> tuple[int, int]:
        timeout = args.timeout_ms if args.timeout_ms is not None else self.timeout_ms
        max_wait = args.max_wait_ms if args.max_wait_ms is not None else self.max_wait_ms
        return timeout, max_wait

    def _tagged(self, tags: list[str], on: str | None) -> list[_Target]:
        frame = self.hub.sessions(tag=tags or None, server=on)
        partial = frame.attrs.get("partial") or []
        if partial:
            self._note(f"left out (not healthy or not answering): {', '.join(partial)}")
        return [_Target(n, s) for s, n in zip(frame["server"], frame["name"], strict=True)]

    def _show(self, target: _Target, panel: _Panel) -> None:
        if self.plain:
            return
        if target.handle is None:
            target.handle = display(panel, display_id=True)
        else:
            target.handle.update(panel)

    # -- servers --------------------------------------------------------------------------------
    @_parser_of("servers")
    def _sub_servers(self, args: Any) -> Any:
        """Every server (this hub first) as a DataFrame."""
        return self.hub.servers()

    @_parser_of("add")
    @argument("--wait", action="store_true", help="then wait until it is healthy; returns its entry")
    @argument("--token-env", metavar="VAR", default=None, help="read the token from environment variable VAR")
    @argument("--token", metavar="T", default=None, help="the backend's token (never shown)")
    @argument("url", help="http://host:port (or https://…/prefix)")
    def _sub_add(self, args: Any) -> Any:
        """Register a backend; returns {"address", "health"}."""
        token = args.token
        if args.token_env is not None:
            token = os.environ.get(args.token_env)
            if not token:
                raise UsageError(f"environment variable {args.token_env} is not set (or empty)")
        if token:
            self._secrets.add(token)
        entry = self.hub.add_server(args.url, token=token)
        if args.wait:
            args.host = entry["address"]
            self.hub.wait_healthy(entry["address"], timeout=self.health_timeout)
            return self.hub.server(entry["address"])
        return entry

    @_parser_of("remove")
    @argument("host", help="hostname or address")
    def _sub_remove(self, args: Any) -> None:
        """Deregister a backend (its sessions keep running on it)."""
        self.hub.remove_server(args.host)
        self._say(f"removed {args.host}; its sessions keep running on it")

    @_parser_of("server")
    @argument("host", help="hostname or address")
    def _sub_server(self, args: Any) -> dict[str, Any]:
        """One server's entry."""
        return self.hub.server(args.host)

    @_parser_of("wait")
    @argument("--timeout", metavar="S", type=_positive_float, default=None,
              help="seconds (default: %%config WshMagics.health_timeout)")  # fmt: skip
    @argument("hosts", nargs="*", metavar="HOST", help="backends to wait for (none: every registered one)")
    def _sub_wait(self, args: Any) -> None:
        """Wait until backends are healthy, with a progress display."""
        timeout = args.timeout if args.timeout is not None else self.health_timeout
        if not args.hosts and not self._registered():
            self._note("no backends registered; %wsh add URL registers one")
            return None
        entries = self._wait_healthy(args, timeout)
        self._say("healthy: " + ", ".join(e.get("hostname") or e.get("address") for e in entries))
        return None

    def _unknown(self, hosts: list[str]) -> str | None:
        """A named host that is certainly not registered (every backend already knows its hostname)."""
        frame = self.hub.servers()
        rows = frame[frame["address"] != "local"]
        names = [h for h in rows["hostname"] if isinstance(h, str) and h]
        if len(names) < len(rows):
            return None  # a backend still connecting may turn out to be the one
        known = {n.lower() for n in names} | set(rows["address"])
        return next((h for h in hosts if h.lower() not in known and h not in known), None)

    def _wait_healthy(self, args: Any, timeout: float) -> list[dict[str, Any]]:
        hosts = args.hosts
        deadline = time.monotonic() + timeout
        handle = None
        while True:
            missing = self._unknown(hosts) if hosts else None
            if missing is not None:
                args.on = missing
                raise ServerNotFound(f"no backend {missing!r} is registered")
            left = deadline - time.monotonic()
            try:
                entries = self.hub.wait_healthy(*hosts, timeout=max(0.01, min(0.25, left)))
            except HealthTimeout as exc:
                if time.monotonic() >= deadline:
                    if handle is not None:
                        handle.update(_Text("not healthy in time"))
                    raise HealthTimeout(
                        re.sub(r"after [0-9.]+ s", f"after {timeout:g} s", exc.message)
                        + "; %wsh servers shows their state",
                        server=exc.server,
                    ) from None
                if self.plain:
                    continue
                frame = self.hub.servers()
                wanted = {h.lower() for h in hosts}
                states = [
                    f"{h or a}: {health}"
                    for h, a, health in zip(frame["hostname"], frame["address"], frame["health"], strict=True)
                    if a != "local" and (not wanted or str(h).lower() in wanted or a in hosts)
                ]
                left = deadline - time.monotonic()
                text = f"waiting for backends ({left:.0f} s left) — " + ", ".join(states)
                if handle is None:
                    handle = display(_Text(text), display_id=True)
                else:
                    handle.update(_Text(text))
                continue
            if handle is not None:
                handle.update(_Text("healthy: " + ", ".join(e.get("hostname") or "?" for e in entries)))
            return entries

    # -- sessions -------------------------------------------------------------------------------
    @_parser_of("sessions")
    @on_flag
    @tag_flags
    def _sub_sessions(self, args: Any) -> Any:
        """Sessions across the cluster as a DataFrame (an empty one is not an error)."""
        frame = self.hub.sessions(tag=args.tag, server=args.on)
        partial = frame.attrs.get("partial") or []
        if partial:
            self._note(f"left out (not healthy or not answering): {', '.join(partial)}")
        return frame

    @_parser_of("create")
    @argument("--env", metavar="KEY=VALUE", action="append", default=None, help="environment (repeat)")
    @argument("--cwd", metavar="DIR", default=None, help="working directory")
    @argument("--command", metavar="CMD", default=None, help="run CMD via /bin/sh -c (default: a shell)")
    @tag_flags
    @on_flag
    @argument("name", nargs="?", default=None, help="NAME or NAME@HOST (omitted: the server picks one)")
    def _sub_create(self, args: Any) -> Any:
        """Create a session; returns its Session handle."""
        name, server = self._target(args.name, args.on) if args.name else (None, args.on)
        env = None
        if args.env:
            env = {}
            for item in args.env:
                key, sep, value = item.partition("=")
                if not sep or not key:
                    raise UsageError(f"--env takes KEY=VALUE, not {item!r}")
                env[key] = value
        return self.hub.create_session(
            name, server=server, tags=args.tag, command=args.command, cwd=args.cwd, env=env
        )

    @_parser_of("screen")
    @argument("--plain", action="store_true", help="without styles")
    @on_flag
    @argument("name", help="NAME or NAME@HOST")
    def _sub_screen(self, args: Any) -> Any:
        """The session's screen (rendered with colours in a notebook)."""
        name, server = self._target(args.name, args.on)
        return self.hub.screen(name, server=server, format="plain" if args.plain else "styled")

    @_parser_of("idle")
    @argument("--fresh", action="store_true", help="observe the full quiet period after this call")
    @idle_flags
    @on_flag
    @tag_flags
    @argument(
        "name", nargs="?", default=None, help="NAME or NAME@HOST (omitted: the first of many to settle)"
    )
    def _sub_idle(self, args: Any) -> IdleResult:
        """Wait until a session is quiet; returns the IdleResult."""
        timeout_ms, max_wait_ms = self._waits(args)
        waits = {"timeout_ms": timeout_ms, "max_wait_ms": max_wait_ms, "fresh": args.fresh}
        if args.name is not None:
            if args.tag:
                raise UsageError("give NAME or --tag, not both")
            name, server = self._target(args.name, args.on)
            return self.hub.wait_idle(name, server=server, **waits)
        if args.on is None:
            return self.hub.wait_idle(tag=args.tag, **waits)
        targets = self._tagged(args.tag or [], args.on)
        if not targets:
            raise NoSessions(f"no sessions to wait on on {args.on}")
        return self._race(targets, waits)

    def _race(self, targets: list[_Target], waits: dict[str, Any]) -> IdleResult:
        hub = self.hub
        with _Batch() as batch:
            for t in targets:
                t.future = batch.submit(lambda t=t: hub.await_idle(t.name, server=t.server, **waits))
            futures = [t.future for t in targets if t.future is not None]
            while True:
                _wait_any(futures, 0.1)
                for f in futures:
                    if f.done() and f.exception() is None:
                        return f.result()
                if all(f.done() for f in futures):
                    errors = [f.exception() for f in futures]
                    for exc in errors:
                        if not isinstance(exc, IdleTimeout):
                            raise exc  # type: ignore[misc]
                    raise errors[0]  # type: ignore[misc]

    @_parser_of("kill")
    @on_flag
    @tag_flags
    @argument("name", nargs="?", default=None, help="NAME or NAME@HOST")
    def _sub_kill(self, args: Any) -> None:
        """Kill one session, or every session with a tag on every server."""
        if (args.name is None) == (not args.tag):
            raise UsageError("give a session NAME or --tag T (not both): %wsh kill build, %wsh kill --tag ci")
        if args.name is not None:
            name, server = self._target(args.name, args.on)
            session = self.hub.session(name, server=server)
            self.hub.kill(session.name, server=session.server)
            self._say(f"killed {session.server}/{session.name}")
            return None
        targets = self._tagged(args.tag, args.on)
        tags = ", ".join(args.tag)
        if not targets:
            self._note(f"no sessions tagged {tags} to kill")
            return None
        hub = self.hub
        with _Batch() as batch:
            for t in targets:
                t.future = batch.submit(lambda t=t: hub.akill(t.name, server=t.server))
            futures = [t.future for t in targets if t.future is not None]
            while not all(f.done() for f in futures):
                _wait_any(futures, 0.1)
        killed, failed = [], []
        for t in targets:
            exc = t.future.exception() if t.future else None
            if exc is None or isinstance(exc, SessionNotFound):  # gone already: the goal is met
                killed.append(t.label)
            else:
                failed.append(f"{t.label}: {exc}")
        self._say(
            f"killed {len(killed)} session{'s' * (len(killed) != 1)} tagged {tags}: {', '.join(killed)}"
        )
        if failed:
            raise self._fail(f"could not kill {len(failed)}: " + "; ".join(failed))
        return None

    # -- dashboard / help -----------------------------------------------------------------------
    @_parser_of("dashboard")
    def _sub_dashboard(self, args: Any) -> Any:
        """The live cluster dashboard widget."""
        try:
            from .widgets import ClusterDashboard  # lazily: ipywidgets is heavy
        except Exception as exc:  # not written yet, or ipywidgets missing
            self._note(
                f"the dashboard is not available here ({type(exc).__name__}: {exc}); "
                "%wsh servers and %wsh sessions show the same state"
            )
            return None
        return ClusterDashboard(self.hub)

    @_parser_of("help")
    @argument("subcommand", nargs="?", default=None)
    def _sub_help(self, args: Any) -> None:
        """Every subcommand with an example, or one subcommand's flags."""
        if args.subcommand is None:
            print(HELP)
            return None
        handler = getattr(self, f"_sub_{args.subcommand}", None)
        if handler is None or not re.fullmatch(r"[a-z]+", args.subcommand):
            raise UsageError(f"no subcommand {args.subcommand!r}; %wsh help lists them")
        print(handler.parser.format_help())
        return None

    # -- %%wsh send -----------------------------------------------------------------------------
    @_parser_of("send")
    @argument("-o", "--out", metavar="VAR", default=None,
              help="store {'server/session': IdleResult or None} in VAR")  # fmt: skip
    @signal_flags
    @argument("--no-newline", action="store_true", help="send the body as is (no \\n after each line)")
    @idle_flags
    @argument("--wait", action="store_true", help="wait for idle and show the final screens")
    @on_flag
    @tag_flags
    @argument("name", nargs="?", default=None, help="NAME or NAME@HOST (or --tag T)")
    def _sub_send(self, args: Any, cell: str) -> None:
        """Type the cell body into a session, or into every session with a tag on every server."""
        if (args.name is None) == (not args.tag):
            raise UsageError(
                "give a session NAME or --tag T (not both): %%wsh send build, %%wsh send --tag ci"
            )
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"-o takes a variable name, not {args.out!r}")
        body = cell[:-1] if cell.endswith("\n") else cell
        data = body if args.no_newline else "".join(line + "\n" for line in body.split("\n"))
        if args.name is not None:
            name, server = self._target(args.name, args.on)
            session = self.hub.session(name, server=server)  # fails here, before anything is typed
            targets = [_Target(session.name, session.server)]
        else:
            targets = self._tagged(args.tag, args.on)
            if not targets:
                where = f"on {args.on}" if args.on else "on any server"
                raise self._fail(
                    f"no sessions tagged {', '.join(args.tag)} {where}; nothing was sent "
                    "(%wsh sessions lists them)"
                )
        timeout_ms, max_wait_ms = self._waits(args)
        signal = (
            args.signal_on_interrupt if args.signal_on_interrupt is not None else self.signal_on_interrupt
        )
        results: dict[str, Any] = {}
        hub = self.hub
        with _Batch() as batch:
            for t in targets:
                self._show(t, _Panel(t.label, "sending…"))
                t.future = batch.submit(lambda t=t: hub.asend(t.name, data, server=t.server))
            failed = self._collect_sends(targets)
            if args.wait:
                live = [t for t in targets if t.label not in failed]
                self._wait_targets(batch, live, timeout_ms, max_wait_ms, signal, failed, results)
        for t in targets:
            results.setdefault(t.label, None)
        if args.out is not None:
            self.shell.user_ns[args.out] = results
        if self.plain:
            for t in targets:
                if t.label in failed:
                    continue
                result = results[t.label]
                self._say(repr(_Panel(t.label, "idle", result.screen)) if args.wait else f"sent to {t.label}")
        if failed:
            what = "did not settle" if args.wait else "did not get the input"
            raise self._fail(
                f"{len(failed)} of {len(targets)} {what}: "
                + "; ".join(f"{k}: {v}" for k, v in failed.items())
            )
        return None

    def _collect_sends(self, targets: list[_Target]) -> dict[str, str]:
        futures = [t.future for t in targets if t.future is not None]
        while not all(f.done() for f in futures):
            _wait_any(futures, 0.1)
        failed: dict[str, str] = {}
        for t in targets:
            exc = t.future.exception() if t.future else None
            if exc is None:
                self._show(t, _Panel(t.label, "sent"))
            else:
                message = (
                    self._explain(exc, _Args(name=t.name, on=t.server, fanout=True))
                    if isinstance(exc, WshError)
                    else str(exc)
                )
                failed[t.label] = self._scrub(message)
                self._show(t, _Panel(t.label, f"failed: {failed[t.label]}", failed=True))
        return failed

    def _wait_targets(
        self,
        batch: _Batch,
        targets: list[_Target],
        timeout_ms: int,
        max_wait_ms: int,
        signal: bool,
        failed: dict[str, str],
        results: dict[str, Any],
    ) -> None:
        hub = self.hub
        for t in targets:
            t.future = batch.submit(
                lambda t=t: hub.await_idle(
                    t.name, server=t.server, timeout_ms=timeout_ms, max_wait_ms=max_wait_ms, fresh=True
                )
            )
        pending = list(targets)
        screens: dict[str, concurrent.futures.Future[Any]] = {}
        next_refresh = time.monotonic() + self.refresh_ms / 1000
        try:
            while pending:
                _wait_any([t.future for t in pending if t.future is not None], 0.1)
                for t in [t for t in pending if t.future is not None and t.future.done()]:
                    pending.remove(t)
                    exc = t.future.exception()  # type: ignore[union-attr]
                    if exc is None:
                        result = t.future.result()  # type: ignore[union-attr]
                        results[t.label] = result
                        self._show(t, _Panel(t.label, "idle", result.screen))
                    else:
                        message = self._explain(exc, _Args(name=t.name, on=t.server, fanout=True)) \
                            if isinstance(exc, WshError) else str(exc)  # fmt: skip
                        failed[t.label] = self._scrub(message)
                        self._show(t, _Panel(t.label, f"failed: {failed[t.label]}", failed=True))
                if self.plain or not pending:
                    continue
                for t in pending:  # live screens: show what arrived, ask again
                    shot = screens.get(t.label)
                    if shot is not None and shot.done():
                        del screens[t.label]
                        if shot.exception() is None:
                            self._show(t, _Panel(t.label, "running…", shot.result()))
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + self.refresh_ms / 1000
                    for t in pending:
                        if t.label not in screens:
                            screens[t.label] = batch.submit(lambda t=t: hub.ascreen(t.name, server=t.server))
        except KeyboardInterrupt:
            batch.close()  # cancels the waits on the hub too
            signalled: list[str] = []
            if signal:
                for t in pending:
                    try:
                        hub.send(t.name, "\x03", server=t.server)
                        signalled.append(t.label)
                    except WshError:
                        pass
            for t in pending:
                status = "interrupted; sent Ctrl-C" if t.label in signalled else "interrupted"
                with contextlib.suppress(Exception):
                    self._show(t, _Panel(t.label, status, failed=True))
            if signalled:
                line = f"interrupted; sent Ctrl-C to {', '.join(signalled)}"
            elif pending and signal:
                line = "interrupted; could not send Ctrl-C to " + ", ".join(t.label for t in pending)
            elif pending:
                line = "interrupted; the sessions were left running (--no-signal-on-interrupt)"
            else:
                line = "interrupted"
            raise WshInterrupted(line, signalled, plain=self.plain) from None


class _Args:
    """Just enough of an argparse namespace for ``_explain`` on one fan-out target."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


# -- extension entry points ---------------------------------------------------------------------
def _reloading() -> bool:
    """Whether we run inside IPython's ``%reload_ext`` (which unloads, re-imports, then loads)."""
    from IPython.core.extensions import ExtensionManager

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "reload_extension" and isinstance(
            frame.f_locals.get("self"), ExtensionManager
        ):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _formatters(ip: Any, install: bool) -> None:
    formatter = getattr(ip, "display_formatter", None)
    if formatter is None or hasattr(IdleResult, "_repr_html_"):
        return
    for mime, fn in (("text/plain", _idle_plain), ("text/html", _idle_html)):
        f = formatter.formatters.get(mime)
        if f is None:
            continue
        if install:
            f.for_type(IdleResult, fn)
        else:
            with contextlib.suppress(KeyError):
                f.pop(IdleResult)


def _unregister(ip: Any, magics: Any) -> None:
    manager = ip.magics_manager
    for table in manager.magics.values():
        for name in list(table):
            if getattr(table[name], "__self__", None) is magics:
                del table[name]
    if manager.registry.get(type(magics).__name__) is magics:
        del manager.registry[type(magics).__name__]
    with contextlib.suppress(ValueError):
        ip.configurables.remove(magics)
    _formatters(ip, install=False)


def load_ipython_extension(ip: Any) -> WshMagics:
    """``%load_ext wsh_nb``: register ``%wsh`` on the kernel's hub; idempotent."""
    existing = getattr(ip, _SLOT, None)
    if (
        existing is not None
        and type(existing) is WshMagics
        and ip.magics_manager.registry.get("WshMagics") is existing
    ):
        return existing
    carried = dict(getattr(ip, _STASH, None) or {})
    if existing is not None:  # a stale registration (e.g. this module was re-imported)
        carried = {**_config_values(existing), **carried}
        _unregister(ip, existing)
    get_hub()  # the kernel's one hub; the same object across %reload_ext
    magics = WshMagics(shell=ip, **carried)
    ip.register_magics(magics)
    _formatters(ip, install=True)
    setattr(ip, _SLOT, magics)
    with contextlib.suppress(AttributeError):
        delattr(ip, _STASH)
    return magics


def _config_values(magics: Any) -> dict[str, Any]:
    return {name: getattr(magics, name) for name in magics.trait_names(config=True)}


def unload_ipython_extension(ip: Any) -> None:
    """``%unload_ext wsh_nb``: drop the magics and close the kernel's hub (``%reload_ext`` keeps the hub)."""
    magics = getattr(ip, _SLOT, None)
    if magics is not None:
        _unregister(ip, magics)
        with contextlib.suppress(AttributeError):
            delattr(ip, _SLOT)
    if _reloading():
        if magics is not None:
            setattr(ip, _STASH, _config_values(magics))
        return
    from .facade import _forget_kernel_hub

    _forget_kernel_hub()
