"""Start real ``wsh-nb serve`` processes on loopback: the one way tests, the demo and notebooks do it.

Each backend binds port 0 and reports its URL on its first stdout line; restarts rebind the same port
(servers set ``SO_REUSEADDR``).  Every process started here is reaped: on ``stop()``, on context exit,
and at interpreter exit as a last resort.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

_LIVE: weakref.WeakSet[BackendProcess] = weakref.WeakSet()
LISTENING = "wsh-nb listening on "


class LaunchError(RuntimeError):
    """A backend did not come up; the message carries the tail of its stderr."""


class BackendProcess:
    """One ``wsh-nb serve`` child process.  ``url`` is known once ``start()`` returns."""

    def __init__(
        self,
        *,
        hostname: str | None = None,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.hostname = hostname
        self._token = token
        self.host = host
        self.port = port
        self.args = list(args)
        self.env = env
        self.log_path = Path(log_path) if log_path else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.url: str | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<BackendProcess {self.hostname or '?'} {self.url or '-'} {state}>"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "wsh_nb",
            "serve",
            "--bind",
            f"{self.host}:{self.port}",
            "--parent-pid",
            str(os.getpid()),
        ]
        if self.hostname:
            cmd += ["--hostname", self.hostname]
        return cmd + self.args

    def start(self, timeout: float = 15.0) -> BackendProcess:
        if self.running:
            return self
        env = dict(os.environ if self.env is None else self.env)
        if self._token:
            env["WSH_TOKEN"] = self._token  # not on the command line, where `ps` would show it
        stderr = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, env=env
            )
        finally:
            if stderr is not subprocess.DEVNULL:
                stderr.close()
        _LIVE.add(self)
        line = self._read_first_line(timeout)
        if not line.startswith(LISTENING):
            self.kill()
            raise LaunchError(f"wsh-nb serve did not start: {line or 'no output'}{self._log_tail()}")
        self.url = line[len(LISTENING) :].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def _read_first_line(self, timeout: float) -> str:
        assert self.proc and self.proc.stdout
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return buf.decode(errors="replace") or "timed out waiting for the listening line"
            ready, _, _ = select.select([fd], [], [], min(left, 0.1))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
        return buf.decode(errors="replace").split("\n", 1)[0]

    def _log_tail(self) -> str:
        if self.log_path and self.log_path.exists():
            return "\n" + self.log_path.read_text(errors="replace")[-2000:]
        return ""

    def wait_healthy(self, timeout: float = 10.0) -> None:
        """Poll ``/health`` until it answers (a restarted process needs a moment to bind)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise LaunchError(f"{self.url} did not answer /health within {timeout} s")
            time.sleep(0.02)

    # -- faults: real signals to the real process -------------------------------------------------
    def signal(self, sig: int) -> None:
        if self.running:
            assert self.proc
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, then reap."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGCONT)
                self.proc.kill()
            self.proc.wait()
            self._close_pipe()

    def freeze(self) -> None:
        self.signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.signal(signal.SIGCONT)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (the graceful path: the server kills its sessions), SIGKILL if it lingers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_pipe()

    def restart(self, timeout: float = 15.0) -> BackendProcess:
        """Start again on the same host and port."""
        self.stop()
        return self.start(timeout)

    def _close_pipe(self) -> None:
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


class LocalCluster:
    """N ``wsh-nb serve`` backends on loopback with distinct hostnames; a context manager.

    >>> with LocalCluster(3) as cluster:          # build-1, test-1, deploy-1
    ...     hub.add_server(cluster["build-1"].url)
    """

    DEFAULT_HOSTNAMES = ("build-1", "test-1", "deploy-1")

    def __init__(
        self,
        n: int = 3,
        hostnames: Sequence[str] | None = None,
        *,
        token: str | None = None,
        args: Sequence[str] = (),
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if hostnames is None:
            hostnames = [
                self.DEFAULT_HOSTNAMES[i] if i < len(self.DEFAULT_HOSTNAMES) else f"node-{i + 1}"
                for i in range(n)
            ]
        self.backends = [
            BackendProcess(
                hostname=h,
                token=token,
                args=args,
                log_path=Path(log_dir) / f"{h}.log" if log_dir else None,
            )
            for h in hostnames
        ]

    def __repr__(self) -> str:
        return f"<LocalCluster {', '.join(b.hostname or '?' for b in self.backends)}>"

    def start(self, timeout: float = 15.0) -> LocalCluster:
        with ThreadPoolExecutor(max_workers=len(self.backends) or 1) as pool:
            try:
                list(pool.map(lambda b: b.start(timeout), self.backends))
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        with ThreadPoolExecutor(max_workers=len(self.backends) or 1) as pool:
            list(pool.map(lambda b: b.stop(), self.backends))

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __getitem__(self, key: int | str) -> BackendProcess:
        if isinstance(key, int):
            return self.backends[key]
        for backend in self.backends:
            if backend.hostname == key:
                return backend
        raise KeyError(f"no backend named {key!r}; have {', '.join(map(str, self.hostnames))}")

    def __iter__(self) -> Iterator[BackendProcess]:
        return iter(self.backends)

    def __len__(self) -> int:
        return len(self.backends)

    @property
    def hostnames(self) -> list[str | None]:
        return [b.hostname for b in self.backends]

    @property
    def urls(self) -> list[str | None]:
        return [b.url for b in self.backends]


@atexit.register
def _reap_all() -> None:
    for backend in list(_LIVE):
        backend.kill()
