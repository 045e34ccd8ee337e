"""Process lifecycle of `wsh-nb serve`: SIGTERM cleans up, ephemeral servers exit, ports are reusable."""

from __future__ import annotations

import os
import signal

import httpx
import psutil

from tests.helpers import wait_for


def test_sigterm_kills_every_child_and_frees_the_port(spawn_server):
    srv = spawn_server("term")
    with httpx.Client(base_url=srv.url) as c:
        pids = [
            c.post("/sessions", json={"command": "sleep 1000 & sleep 1000"}).json()["pid"] for _ in range(3)
        ]
    tree = [p.pid for pid in pids for p in [psutil.Process(pid), *psutil.Process(pid).children(True)]]
    srv.signal(signal.SIGTERM)
    assert srv.proc.wait(10) == 0
    wait_for(lambda: not any(_alive(p) for p in tree), message="session processes gone")
    again = spawn_server("term2", port=srv.port)  # the same port binds again at once
    assert httpx.get(f"{again.url}/health").status_code == 200


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_ephemeral_server_exits_after_its_last_session(spawn_server):
    srv = spawn_server("eph", args=["--ephemeral"])
    with httpx.Client(base_url=srv.url) as c:
        assert c.get("/server/persist").json() == {"persistent": False}
        c.post("/sessions", json={"name": "only", "command": "cat"})
        c.delete("/sessions/only")
    assert srv.proc.wait(10) == 0


def test_session_children_lead_their_own_process_group(spawn_server):
    srv = spawn_server("pg")
    with httpx.Client(base_url=srv.url) as c:
        pid = c.post("/sessions", json={"command": "cat"}).json()["pid"]
    assert os.getpgid(pid) == pid and os.getsid(pid) == pid


def test_non_loopback_bind_without_token_generates_one(tmp_path):
    import subprocess
    import sys

    from wsh_nb.server.serve import is_loopback

    assert is_loopback("127.0.0.2") and is_loopback("::1") and not is_loopback("0.0.0.0")
    proc = subprocess.run(
        [sys.executable, "-m", "wsh_nb", "serve", "--token", "short"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0 and "at least 16" in proc.stderr


def test_a_launched_backend_exits_when_its_launcher_is_killed(tmp_path):
    import subprocess
    import sys

    script = (
        "from wsh_nb.launchers import BackendProcess\n"
        "b = BackendProcess(hostname='orphan').start()\n"
        "print(b.pid, flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    launcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        backend_pid = int(launcher.stdout.readline())
        assert _alive(backend_pid)
        launcher.kill()  # SIGKILL: no atexit, no cleanup in the launcher
        launcher.wait(10)
        wait_for(lambda: not _alive(backend_pid), message="backend gone with its launcher")
    finally:
        launcher.kill()
        launcher.wait()


def test_non_loopback_without_token_generates_one_printed_once(capsys, monkeypatch):
    import argparse
    import string

    from wsh_nb.server.serve import resolve_token

    monkeypatch.delenv("WSH_TOKEN", raising=False)
    token = resolve_token(argparse.Namespace(token=None), "192.0.2.7")  # no socket is bound here
    err = capsys.readouterr().err
    assert len(token) == 32 and set(token) <= set(string.ascii_letters + string.digits)
    assert err.count(token) == 1 and "192.0.2.7" in err
    assert resolve_token(argparse.Namespace(token=None), "127.0.0.1") is None  # loopback: no token needed
    monkeypatch.setenv("WSH_TOKEN", "from-the-environment-123")
    assert resolve_token(argparse.Namespace(token=None), "192.0.2.7") == "from-the-environment-123"
    assert capsys.readouterr().err == ""
