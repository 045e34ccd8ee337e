"""The local session registry: names, tags, auto names, lifecycle events.

A ``Session`` is one PTY child with its screen and activity clock.  The registry validates everything
before it spawns anything, hands out auto names from a counter that never reuses a number, removes a
session the moment it is killed or its child exits, and publishes the wire's lifecycle events.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable
from typing import Any

from .errors import (
    InputSendFailed,
    InvalidRequest,
    MaxSessionsReached,
    SessionCreateFailed,
    SessionNameConflict,
    SessionNotFound,
)
from .events import EventBus
from .terminal import Activity, PtyProcess, Screen
from .wire import DEFAULT_COLS, DEFAULT_ROWS, check_name, check_tags, clamp_size

# Never hand the server's own credential to the programs it runs.
_SCRUBBED_ENV = ("WSH_TOKEN",)


class Session:
    """One terminal session: a PTY child, its emulated screen, and its activity clock."""

    def __init__(self, name: str, pty: PtyProcess, *, command: str, rows: int, cols: int, tags: list[str]):
        self.name = name
        self.pty = pty
        self.command = command
        self.rows = rows
        self.cols = cols
        self.tags: set[str] = set(tags)
        self.screen = Screen(cols, rows)
        self.activity = Activity()
        self.clients = 0
        self.created = time.time()
        # Styled snapshots cost ~0.6 ms (span extraction); screens are polled far more often than they
        # change, so keep the last one per format until the next activity.
        self._snapshots: dict[str, tuple[int, dict[str, Any]]] = {}

    def __repr__(self) -> str:
        return f"<Session {self.name!r} pid={self.pty.pid}>"

    @property
    def alive(self) -> bool:
        return not self.activity.closed

    def info(self, server: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "server": server,
            "pid": self.pty.pid,
            "command": self.command,
            "rows": self.rows,
            "cols": self.cols,
            "clients": self.clients,
            "tags": sorted(self.tags),
            "last_activity_ms": self.activity.ms_since(),
        }

    def _on_output(self, data: bytes) -> None:
        self.screen.feed(data)
        self.activity.touch()

    def send(self, data: bytes) -> None:
        """Write raw bytes to the PTY, in order; counts as activity."""
        if not self.alive:
            raise SessionNotFound(f"session {self.name!r} has exited")
        try:
            self.pty.write(data)
        except OSError as exc:
            raise InputSendFailed(f"could not write to session {self.name!r}: {exc.strerror or exc}") from exc
        self.activity.touch()

    def snapshot(self, format: str) -> dict[str, Any]:
        """The screen in wire shape, reused while nothing has happened since it was taken."""
        generation = self.activity.generation
        cached = self._snapshots.get(format)
        if cached is not None and cached[0] == generation:
            return cached[1]
        snap = self.screen.snapshot(format)
        self._snapshots[format] = (generation, snap)
        return snap

    def screen_json(self, format: str) -> dict[str, Any]:
        return {**self.snapshot(format), "last_activity_ms": self.activity.ms_since()}

    async def wait_idle(
        self, *, timeout_ms: int, max_wait_ms: int, last_generation: int | None, fresh: bool, format: str
    ) -> dict[str, Any]:
        generation = await self.activity.wait_idle(
            timeout_ms, max_wait_ms=max_wait_ms, last_generation=last_generation, fresh=fresh
        )
        return {
            "screen": self.snapshot(format),
            "scrollback_lines": self.screen.total_lines,
            "generation": generation,
            "last_activity_ms": self.activity.ms_since(),
        }


class SessionRegistry:
    """Every local session by name.  Must be used on the event loop that runs the PTYs."""

    def __init__(self, *, events: EventBus, max_sessions: int = 256) -> None:
        self.events = events
        self.max_sessions = max_sessions
        self._sessions: dict[str, Session] = {}
        self._counter = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, name: object) -> bool:
        return name in self._sessions

    def get(self, name: str) -> Session:
        try:
            return self._sessions[name]
        except KeyError:
            raise SessionNotFound(f"no session named {name!r} on this server") from None

    def list(self, tags: Iterable[str] | None = None) -> list[Session]:
        wanted = set(tags or ())
        return [s for s in self._sessions.values() if not wanted or s.tags & wanted]

    def _auto_name(self) -> str:
        while str(self._counter) in self._sessions:
            self._counter += 1
        name = str(self._counter)
        self._counter += 1
        return name

    def create(
        self,
        name: str | None = None,
        *,
        command: str | None = None,
        rows: int | None = None,
        cols: int | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        tags: Iterable[str] | None = None,
    ) -> Session:
        """Validate everything, then spawn.  Raises the wire's 400/409/500/503 errors."""
        if name is not None:
            check_name(name)
        clean_tags = check_tags(tags)
        rows = clamp_size(rows, DEFAULT_ROWS)
        cols = clamp_size(cols, DEFAULT_COLS)
        if command is not None and not isinstance(command, str):
            raise InvalidRequest("command must be a string", status=422)
        if cwd is not None and not isinstance(cwd, str):
            raise InvalidRequest("cwd must be a string", status=422)
        if env is not None and (
            not isinstance(env, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        ):
            raise InvalidRequest("env must be an object of string values", status=422)
        if name is not None and name in self._sessions:
            raise SessionNameConflict(
                f"a session named {name!r} already exists; pick another name or kill it first"
            )
        if len(self._sessions) >= self.max_sessions:
            raise MaxSessionsReached(
                f"this server already runs {self.max_sessions} sessions; kill some first"
            )

        if command is None:
            shell = os.environ.get("SHELL") or "/bin/sh"
            argv, shown = [shell], shell
        else:
            argv, shown = ["/bin/sh", "-c", command], command
        child_env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        child_env["TERM"] = "xterm-256color"
        child_env.update(env or {})
        try:
            pty = PtyProcess.spawn(argv, env=child_env, cwd=cwd, rows=rows, cols=cols)
        except OSError as exc:
            raise SessionCreateFailed(f"could not start {shown!r}: {exc.strerror or exc}") from exc

        name = name if name is not None else self._auto_name()
        session = Session(name, pty, command=shown, rows=rows, cols=cols, tags=clean_tags)
        self._sessions[name] = session
        pty.start(asyncio.get_running_loop(), session._on_output, lambda _code: self._on_exit(session))
        self.events.publish("session_created", name=name)
        return session

    def _on_exit(self, session: Session) -> None:
        session.activity.close()
        self._discard(session)

    def _discard(self, session: Session) -> None:
        if self._sessions.get(session.name) is session:
            del self._sessions[session.name]
            self.events.publish("session_destroyed", name=session.name)

    def kill(self, name: str) -> None:
        """SIGKILL the session's process group and forget it at once."""
        session = self.get(name)
        self._discard(session)
        session.activity.close()
        session.pty.close()

    def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        add_tags: Iterable[str] | None = None,
        remove_tags: Iterable[str] | None = None,
    ) -> Session:
        """Rename, then add tags, then remove tags; everything validated before anything changes."""
        session = self.get(name)
        if new_name is not None:
            check_name(new_name)
            if new_name in self._sessions:
                raise SessionNameConflict(f"a session named {new_name!r} already exists")
        added = check_tags(add_tags)
        removed = check_tags(remove_tags)
        if new_name is not None:
            del self._sessions[name]
            session.name = new_name
            self._sessions[new_name] = session
            self.events.publish("session_renamed", old_name=name, new_name=new_name)
        before = set(session.tags)
        session.tags.update(added)
        session.tags.difference_update(removed)
        if session.tags != before:
            self.events.publish(
                "session_tags_changed",
                name=session.name,
                added=sorted(session.tags - before),
                removed=sorted(before - session.tags),
            )
        return session

    def close_all(self) -> None:
        for name in list(self._sessions):
            self.kill(name)
