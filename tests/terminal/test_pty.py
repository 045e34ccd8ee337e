"""PtyProcess against real PTYs and real processes: output, exit, errors, input order, signals, size."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from wsh_nb.terminal import PtyProcess

pytestmark = pytest.mark.anyio

DEADLINE = 10.0


class Child:
    """A started PtyProcess whose output and exit are collected on the running loop."""

    def __init__(self, argv: list[str], **kw) -> None:
        self.loop = asyncio.get_running_loop()
        self.out = bytearray()
        self.exits: list[int] = []
        self.exited = asyncio.Event()
        self._changed = asyncio.Event()
        self.output_at_exit: bytes | None = None
        env = {**os.environ, "TERM": "xterm-256color", **kw.pop("env", {})}
        self.proc = PtyProcess.spawn(argv, env=env, **kw)
        self.proc.start(self.loop, self._on_output, self._on_exit)

    def _on_output(self, data: bytes) -> None:
        self.out += data
        self._changed.set()

    def _on_exit(self, code: int) -> None:
        self.exits.append(code)
        self.output_at_exit = bytes(self.out)
        self.exited.set()

    async def wait_output(self, needle: bytes, timeout: float = DEADLINE) -> None:
        async def loop() -> None:
            while needle not in self.out:
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
        except asyncio.TimeoutError:
            pytest.fail(f"no {needle!r} in output within {timeout} s; got {bytes(self.out[-500:])!r}")

    async def wait_exit(self, timeout: float = DEADLINE) -> int:
        await asyncio.wait_for(self.exited.wait(), timeout)
        return self.exits[0]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0); look at its state
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def wait_dead(pid: int, timeout: float = DEADLINE) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while alive(pid):
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"pid {pid} still alive after {timeout} s")
        await asyncio.sleep(0.01)  # polling a condition with a deadline, not synchronising


async def test_spawn_output_arrives() -> None:
    c = Child(["/bin/sh", "-c", "echo hello-pty"])
    await c.wait_output(b"hello-pty")
    assert await c.wait_exit() == 0
    c.proc.close()


async def test_exit_code_reported_once_after_output_drained() -> None:
    c = Child(["/bin/sh", "-c", "seq 1 20000; exit 7"])
    assert await c.wait_exit() == 7
    assert c.proc.returncode == 7
    assert c.output_at_exit is not None and c.output_at_exit.rstrip().endswith(b"\r\n20000")
    # nothing more comes, and on_exit stays at one call
    await asyncio.sleep(0.1)
    assert c.exits == [7]
    with pytest.raises(OSError):  # closed itself after on_exit: no fd leak if nobody calls close()
        c.proc.resize(10, 10)
    c.proc.close()
    assert c.exits == [7]


async def test_exit_by_signal_is_negative() -> None:
    c = Child(["/bin/sh", "-c", "kill -TERM $$"])
    assert await c.wait_exit() == -signal.SIGTERM
    c.proc.close()


async def test_background_grandchild_holding_the_pty_does_not_delay_exit_forever() -> None:
    c = Child(["/bin/sh", "-c", "trap '' HUP; sleep 100 & echo bg=$!; exit 0"])
    assert await c.wait_exit(timeout=5) == 0
    bg = int(c.output_at_exit.split(b"bg=")[1].split()[0])
    await wait_dead(bg)
    c.proc.close()


def test_bad_cwd_raises_in_parent(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        PtyProcess.spawn(["/bin/sh", "-c", "true"], env=dict(os.environ), cwd=str(tmp_path / "missing"))
    with pytest.raises(NotADirectoryError):
        PtyProcess.spawn(["/bin/sh"], env=dict(os.environ), cwd="/etc/passwd")


def test_missing_program_raises_in_parent(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        PtyProcess.spawn(["no-such-program-wsh"], env=dict(os.environ))
    with pytest.raises(FileNotFoundError):
        PtyProcess.spawn([str(tmp_path / "nope")], env=dict(os.environ))
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(PermissionError):
        PtyProcess.spawn([str(script)], env=dict(os.environ))


async def test_cwd_and_env_reach_the_child(tmp_path) -> None:
    c = Child(["/bin/sh", "-c", 'echo "at=$(pwd) v=$WSH_T"'], cwd=str(tmp_path), env={"WSH_T": "x1"})
    await c.wait_output(f"at={tmp_path} v=x1".encode())
    await c.wait_exit()
    c.proc.close()


async def test_thousand_writes_arrive_in_order_byte_exact(tmp_path) -> None:
    sink = tmp_path / "sink"
    # every byte value, control characters included (raw mode: no signals, no flow control)
    chunks = [b"%04d:" % i + bytes((i + k) % 256 for k in range(i % 97)) for i in range(1000)]
    payload = b"".join(chunks)
    c = Child(["/bin/sh", "-c", f"stty raw -echo; echo ready; head -c {len(payload)} > {sink}; echo done"])
    await c.wait_output(b"ready")
    for chunk in chunks:
        c.proc.write(chunk)
    await c.wait_output(b"done")
    assert sink.read_bytes() == payload
    await c.wait_exit()
    c.proc.close()


async def test_large_write_does_not_block_and_keeps_order(tmp_path) -> None:
    sink = tmp_path / "sink"
    size = 1 << 20
    c = Child(["/bin/sh", "-c", f"stty raw -echo; echo ready; head -c {size} > {sink}; echo done"])
    await c.wait_output(b"ready")
    payload = bytes((i * 7) % 256 for i in range(size))
    c.proc.write(payload[: size // 2])  # far more than the PTY buffer: the rest waits in ours
    c.proc.write(payload[size // 2 :])
    await c.wait_output(b"done", timeout=30)
    assert sink.read_bytes() == payload
    c.proc.close()


async def test_ctrl_c_interrupts_foreground_job() -> None:
    c = Child(["/bin/sh", "-c", "echo start; sleep 100; echo after=$?"])
    await c.wait_output(b"start")
    await wait_sleep_child(c.proc.pid)
    c.proc.write(b"\x03")
    code = await c.wait_exit()
    # sh got SIGINT too (same foreground group): either the shell dies of it or reports sleep's 130
    assert code == -signal.SIGINT or b"after=130" in c.out
    c.proc.close()


async def wait_sleep_child(pid: int) -> int:
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while True:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    with open(f"/proc/{entry}/comm") as f:
                        comm = f.read().strip()
                except OSError:
                    continue
                if int(fields[1]) == pid and comm == "sleep":
                    return int(entry)
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("the sleep child never started")
        await asyncio.sleep(0.01)


async def test_kill_kills_the_whole_group() -> None:
    c = Child(["/bin/sh", "-c", "sleep 100 & echo bg=$!; sleep 100"])
    await c.wait_output(b"bg=")
    await c.wait_output(b"\n")
    bg = int(bytes(c.out).split(b"bg=")[1].split()[0])
    assert os.getpgid(bg) == c.proc.pid
    c.proc.kill()
    assert await c.wait_exit() == -signal.SIGKILL
    await wait_dead(bg)
    c.proc.kill()  # idempotent on a dead group
    c.proc.close()
    c.proc.kill()


async def test_child_is_session_leader_with_controlling_tty() -> None:
    c = Child(["/bin/sh", "-c", "ps -o pid=,sid=,pgid=,tpgid=,tty= -p $$"])
    await c.wait_exit()
    pid, sid, pgid, tpgid, tty = bytes(c.out).split()
    assert int(pid) == int(sid) == int(pgid) == int(tpgid) == c.proc.pid
    assert tty.startswith(b"pts/")
    c.proc.close()


async def test_resize_is_seen_by_stty_size() -> None:
    c = Child(["/bin/sh", "-c", "stty size; read x; stty size; read y"], rows=30, cols=100)
    await c.wait_output(b"30 100")
    c.proc.resize(50, 132)
    c.proc.write(b"\n")
    await c.wait_output(b"50 132")
    c.proc.close()


async def test_write_after_exit_raises_oserror() -> None:
    c = Child(["/bin/sh", "-c", "exit 0"])
    await c.wait_exit()
    with pytest.raises(OSError):
        c.proc.write(b"x")
    c.proc.close()
    with pytest.raises(OSError):
        c.proc.write(b"x")


async def test_close_kills_reaps_and_is_idempotent() -> None:
    c = Child(["/bin/sh", "-c", "sleep 100"])
    pid = c.proc.pid
    c.proc.close()
    c.proc.close()
    assert not alive(pid)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left
    assert c.exits == []  # no callback after close()


async def test_children_die_when_the_server_is_sigkilled() -> None:
    import subprocess
    import sys

    code = (
        "import os, sys, time\n"
        "from wsh_nb.terminal import PtyProcess\n"
        "p = PtyProcess.spawn(['sleep', '100'], env=dict(os.environ))\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(100)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), DEADLINE)
        child = int(line)
        assert alive(child)
        server.kill()
        await wait_dead(child)
    finally:
        server.kill()
        server.wait()
