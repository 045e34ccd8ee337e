"""A child process on a fresh PTY, driven from an asyncio loop without threads or signal handlers.

The child is a session leader with the PTY as its controlling terminal, so ``\\x03`` written to the
master reaches the foreground job as SIGINT and ``kill()`` can SIGKILL the whole process group.

- ``spawn`` forks; the child only resets signals, sets ``PR_SET_PDEATHSIG`` (so it dies with the thread
  that forked it, also when the server is SIGKILLed), becomes session leader, takes the PTY, changes
  directory and execs.  Everything it needs (argv, env, paths, ctypes functions) is prepared before the
  fork.  A failure of ``chdir`` or ``execve`` travels back over a CLOEXEC pipe and is raised in the
  parent as ``OSError`` (``FileNotFoundError`` for a missing program or directory), like ``subprocess``.
- Output: ``loop.add_reader`` on the non-blocking master, 64 KiB reads; EIO or EOF means every holder
  of the slave side is gone.
- Exit: ``os.pidfd_open`` + ``loop.add_reader``, then ``os.waitpid``.  ``on_exit`` runs once, after the
  child exited and its output was drained; if something else (a background grandchild) keeps the slave
  open, the group is SIGKILLed after a short grace instead of waiting for EOF forever.  After ``on_exit``
  returns the PtyProcess closes itself (fds released; ``write``/``resize`` then raise ``OSError``).
- Input: ``write`` never blocks; bytes that do not fit go to a buffer flushed by ``loop.add_writer``, so
  order is kept across calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import signal
import struct
import termios
from collections.abc import Callable

_READ_SIZE = 65536
_PR_SET_PDEATHSIG = 1
_SIG_SETMASK = 2
# After the child exited: how long a slave side kept open by a grandchild may stay before the group is
# killed, and how long we then wait for the EOF that follows.
_EXIT_GRACE_S = 0.05
_KILL_GRACE_S = 0.5
# Signals a parent may have ignored or given handlers; the child starts from the defaults.
_RESET_SIGNALS = tuple(
    int(getattr(signal, name))
    for name in (
        "SIGINT",
        "SIGQUIT",
        "SIGPIPE",
        "SIGXFSZ",
        "SIGHUP",
        "SIGTERM",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGCHLD",
        "SIGUSR1",
        "SIGUSR2",
        "SIGALRM",
        "SIGWINCH",
    )
    if hasattr(signal, name)
)

_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int
_c_signal = _libc.signal
_c_signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
_c_signal.restype = ctypes.c_void_p
_sigprocmask = _libc.sigprocmask
_sigprocmask.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
_sigprocmask.restype = ctypes.c_int
_EMPTY_SIGSET = ctypes.create_string_buffer(128)  # a zeroed sigset_t (glibc's is 128 bytes)


def _winsize(rows: int, cols: int) -> bytes:
    return struct.pack("HHHH", rows, cols, 0, 0)


def _resolve(program: str, env: dict[str, str]) -> str:
    if "/" in program:
        return program
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(errno.ENOENT, f"program not found on PATH: {program}", program)
    return found


class PtyProcess:
    """A child on a fresh PTY, session leader with the PTY as its controlling terminal."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.fd = fd  # master side, non-blocking
        self.returncode: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_output: Callable[[bytes], None] | None = None
        self._on_exit: Callable[[int], None] | None = None
        self._pidfd: int | None = None
        self._reading = False
        self._eof = False
        self._exit_reported = False
        self._closed = False
        self._pending = bytearray()
        self._writing = False
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        state = (
            "closed"
            if self._closed
            else ("running" if self.returncode is None else f"exited {self.returncode}")
        )
        return f"<PtyProcess pid={self.pid} {state}>"

    # -- spawn -------------------------------------------------------------------------------------

    @classmethod
    def spawn(
        cls,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: str | None = None,
        rows: int = 24,
        cols: int = 80,
    ) -> PtyProcess:
        """Start ``argv`` on a new PTY; raises ``OSError`` here if the program or ``cwd`` is unusable.

        ``PR_SET_PDEATHSIG`` follows the *thread* that forks: call this from a long-lived thread (the
        event loop's), never from a worker pool thread that may exit while the child runs.
        """
        if not argv:
            raise ValueError("argv must not be empty")
        path = os.fsencode(_resolve(argv[0], env))
        args = [os.fsencode(a) for a in argv]
        envb = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
        cwdb = os.fsencode(cwd) if cwd is not None else None
        parent = os.getpid()

        master, slave = os.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, _winsize(rows, cols))
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        try:
            pid = os.fork()
        except BaseException:
            for fd in (master, slave, err_r, err_w):
                os.close(fd)
            raise

        if pid == 0:  # the child: nothing but the calls needed to exec
            stage = b"setup"
            try:
                for sig in _RESET_SIGNALS:
                    _c_signal(sig, None)  # SIG_DFL
                _sigprocmask(_SIG_SETMASK, _EMPTY_SIGSET, None)
                _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                if os.getppid() != parent:  # the parent died before prctl took effect
                    os._exit(255)
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                os.dup2(slave, 0)
                os.dup2(slave, 1)
                os.dup2(slave, 2)
                os.closerange(3, err_w)
                os.closerange(err_w + 1, 1 << 20)
                if cwdb is not None:
                    stage = b"chdir"
                    os.chdir(cwdb)
                stage = b"exec"
                os.execve(path, args, envb)
            except OSError as exc:
                code = exc.errno or 0
            except BaseException:
                code = 0
            with contextlib.suppress(BaseException):
                os.write(err_w, b"%s:%d" % (stage, code))
            os._exit(255)

        # the parent
        os.close(slave)
        os.close(err_w)
        try:
            report = b""
            while True:
                part = os.read(err_r, 256)
                if not part:
                    break
                report += part
        finally:
            os.close(err_r)
        if report:
            os.close(master)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            stage, _, num = report.partition(b":")
            code = int(num or 0)
            if stage == b"chdir":
                raise OSError(code, os.strerror(code), cwd)
            if stage == b"exec":
                raise OSError(code, os.strerror(code), argv[0])
            raise OSError(code, f"child set-up failed: {os.strerror(code)}")
        os.set_blocking(master, False)
        return cls(pid, master)

    # -- running -----------------------------------------------------------------------------------

    def start(
        self,
        loop: asyncio.AbstractEventLoop,
        on_output: Callable[[bytes], None],
        on_exit: Callable[[int], None],
    ) -> None:
        """Deliver output to ``on_output`` and the return code, once, to ``on_exit`` (on ``loop``)."""
        if self._loop is not None:
            raise RuntimeError("PtyProcess.start() called twice")
        if self._closed:
            raise OSError(errno.EBADF, "PtyProcess is closed")
        self._loop = loop
        self._on_output = on_output
        self._on_exit = on_exit
        loop.add_reader(self.fd, self._on_readable)
        self._reading = True
        self._pidfd = os.pidfd_open(self.pid)
        loop.add_reader(self._pidfd, self._on_child_exit)
        if self._pending:
            self._start_writer()

    def _read_once(self) -> bool:
        """One read from the master; False when nothing more is there now (EAGAIN) or ever (EOF)."""
        try:
            data = os.read(self.fd, _READ_SIZE)
        except BlockingIOError:
            return False
        except OSError:  # EIO: every holder of the slave side is gone
            data = b""
        if not data:
            self._set_eof()
            return False
        if self._on_output is not None:
            self._on_output(data)
        return True

    def _on_readable(self) -> None:
        self._read_once()
        if self._eof and self.returncode is not None:
            self._report_exit()

    def _set_eof(self) -> None:
        self._eof = True
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self.fd)
            self._reading = False

    def _drain(self) -> None:
        while not self._eof and self._read_once():
            pass

    def _on_child_exit(self) -> None:
        if not self._reap():
            return
        self._drain()
        if self._eof:
            self._report_exit()
        else:  # a grandchild holds the slave open, or the last bytes are still in the kernel
            assert self._loop is not None
            self._timer = self._loop.call_later(_EXIT_GRACE_S, self._exit_grace_over)

    def _exit_grace_over(self) -> None:
        self._drain()
        if self._eof:
            self._report_exit()
            return
        self.kill()
        assert self._loop is not None
        self._timer = self._loop.call_later(_KILL_GRACE_S, self._kill_grace_over)

    def _kill_grace_over(self) -> None:
        self._timer = None
        self._drain()
        self._report_exit()

    def _reap(self) -> bool:
        """waitpid without blocking; True once the child is reaped (pidfd reader then removed)."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 255 << 8  # reaped by someone else; the code is lost
            if pid == 0:
                return False
            self.returncode = os.waitstatus_to_exitcode(status)
        if self._pidfd is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        return True

    def _report_exit(self) -> None:
        if self._exit_reported or self.returncode is None:
            return
        self._exit_reported = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._set_eof()
        callback = self._on_exit
        try:
            if callback is not None and not self._closed:
                callback(self.returncode)
        finally:
            self.close()  # nothing more can come: release the master fd even if nobody calls close()

    # -- input / control ---------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the PTY, verbatim and in order; never blocks.  OSError if the child is gone."""
        if self._closed:
            raise OSError(errno.EBADF, "the PTY is closed")
        if self.returncode is not None:
            raise OSError(errno.EIO, f"process {self.pid} has exited ({self.returncode})")
        if not data:
            return
        if not self._pending:
            try:
                n = os.write(self.fd, data)
            except BlockingIOError:
                n = 0
            if n == len(data):
                return
            data = memoryview(data)[n:]
        self._pending += data
        self._start_writer()

    def _start_writer(self) -> None:
        if not self._writing and self._loop is not None:
            self._loop.add_writer(self.fd, self._on_writable)
            self._writing = True

    def _stop_writer(self) -> None:
        if self._writing and self._loop is not None:
            self._loop.remove_writer(self.fd)
        self._writing = False

    def _on_writable(self) -> None:
        try:
            n = os.write(self.fd, self._pending)
        except BlockingIOError:
            return
        except OSError:  # the slave side went away; nobody will read the rest
            self._pending.clear()
            self._stop_writer()
            return
        del self._pending[:n]
        if not self._pending:
            self._stop_writer()

    def resize(self, rows: int, cols: int) -> None:
        """Set the window size; the foreground job gets SIGWINCH."""
        if self._closed:
            raise OSError(errno.EBADF, "the PTY is closed")
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, _winsize(rows, cols))

    def kill(self) -> None:
        """SIGKILL the whole process group; idempotent, silent if the group is already gone."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop callbacks, kill the group if the child is alive, reap it, close the fds; idempotent.

        No callback runs after ``close()`` returns (``on_exit`` included).
        """
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self.fd)
        self._reading = False
        self._stop_writer()
        self._pending.clear()
        if self.returncode is None or not self._eof:
            self.kill()
        if self.returncode is None:
            with contextlib.suppress(ChildProcessError):
                _, status = os.waitpid(self.pid, 0)  # SIGKILLed: gone within milliseconds
                self.returncode = os.waitstatus_to_exitcode(status)
        if self.returncode is None:
            self.returncode = -signal.SIGKILL
        self._reap()
        os.close(self.fd)
