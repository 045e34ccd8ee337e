"""``wsh-nb demo`` as a user runs it: a subprocess, its output checked stage by stage, nothing left over."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
import uuid

import pytest

from .conftest import MARKER_VAR, still_running

pytestmark = pytest.mark.timeout(90)


def run_demo(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsh_nb", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
    )


@pytest.fixture(scope="module")
def demo_run() -> tuple[subprocess.CompletedProcess[str], float, list[str]]:
    """One ``--fast`` run shared by the output checks: (result, wall seconds, processes left behind)."""
    marker = uuid.uuid4().hex
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(MARKER_VAR, marker)
        mp.setenv("WSH_NONINTERACTIVE", "1")
        t0 = time.monotonic()
        result = run_demo("--fast")
        wall = time.monotonic() - t0
    return result, wall, still_running(marker)


def section(out: str, title: str) -> str:
    """The text of one ``== title ==`` stage, up to the next stage header."""
    match = re.search(rf"^== {re.escape(title)}[^\n]*==\n(.*?)(?=^== |\Z)", out, re.MULTILINE | re.DOTALL)
    assert match, f"stage {title!r} missing from the demo output:\n{out}"
    return match.group(1)


def test_demo_exits_zero_quickly_and_leaves_no_process(demo_run):
    result, wall, left = demo_run
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert wall < 30, f"the demo took {wall:.1f} s"
    assert left == [], f"processes left behind: {left}"
    assert "cleaned up: hub closed, every backend stopped" in result.stdout


def test_demo_cluster_stage_shows_three_healthy_backends(demo_run):
    out = section(demo_run[0].stdout, "1. cluster")
    for host in ("build-1", "test-1", "deploy-1"):
        assert re.search(rf"^\s+{host} http://127\.0\.0\.1:\d+ healthy", out, re.MULTILINE), out
    assert "every backend is healthy" in out


def test_demo_fanout_races_three_ci_jobs_and_tabulates_them(demo_run):
    out = section(demo_run[0].stdout, "2. fan-out")
    assert "hub.sessions(tag='ci'): 3 sessions on build-1, deploy-1, test-1" in out
    winners = re.findall(r"race winner: (\S+)/(\S+) EXIT=0", out)
    assert sorted(winners) == [("build-1", "compile"), ("deploy-1", "unit"), ("test-1", "checksum")], out
    rows = re.findall(r"^\s+(build-1|test-1|deploy-1)\s+(\w+)\s+ok\s+[\d.]+\s+(\S.*)$", out, re.MULTILINE)
    assert len(rows) == 3, out
    assert all(tail.strip() for *_, tail in rows), "every job shows its output tail"


def test_demo_pipeline_checks_each_stage_before_the_next(demo_run):
    out = section(demo_run[0].stdout, "3. pipeline")
    stages = re.findall(r"\[(build|test|deploy)\] ok EXIT=0", out)
    assert stages == ["build", "test", "deploy"], out
    sha = re.search(r"SHA256=([0-9a-f]{16})", out).group(1)
    assert f"sh test.sh app.tar.gz {sha}" in out, "the test stage got the build's checksum"
    assert f"CURRENT=app-{sha}.tar.gz" in out
    assert "pipeline passed" in out
    assert out.index("[build] ok") < out.index("[test] on test-1") < out.index("[test] ok")
    assert out.index("[test] ok") < out.index("[deploy] on deploy-1")


def test_demo_failure_drill_loses_test1_recovers_by_tags_and_restarts(demo_run):
    out = section(demo_run[0].stdout, "4. failure drill")
    kill_at = out.index("killing the test-1 backend (SIGKILL")
    assert "test-1/integration is running ('integration step 3')" in out[:kill_at], "killed mid-job"
    after = out[kill_at:]
    assert {"build-1/lint", "deploy-1/smoke"} <= set(re.findall(r"race winner: (\S+) EXIT=0", after)), after
    assert "test-1/integration: lost: test-1 is unavailable" in out
    assert "attrs['partial'] = ['test-1']" in out
    assert "hub.screen('integration') -> ServerUnavailable" in out
    assert re.search(r"^\s+test-1 http://\S+ unavailable", out, re.MULTILINE), out
    assert "recreating integration as integration-retry on" in out
    assert "with the same tags ['nightly']" in out
    assert re.search(r"race winner: (build-1|deploy-1)/integration-retry EXIT=0", out), out
    assert "test-1 is healthy again" in out
    restarted = out[out.index("test-1 is healthy again") :]
    assert re.search(r"^\s+test-1 http://\S+ healthy", restarted, re.MULTILINE), restarted


def test_demo_summary_and_no_token_in_output(demo_run):
    result = demo_run[0]
    summary = section(result.stdout, "done")
    for name in ("fan-out", "pipeline", "failure drill"):
        assert f"{name}: ok" in summary
    assert "token" not in (result.stdout + result.stderr).lower()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_interrupted_mid_workflow_stops_every_process(sig, run_marker):
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsh_nb", "demo", "--fast"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    seen = ""
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 30
        while "== 2. fan-out" not in seen:  # interrupt mid-workflow, with sessions running
            assert time.monotonic() < deadline, f"demo never reached the fan-out:\n{seen}"
            if sel.select(timeout=0.5):
                line = proc.stdout.readline()
                assert line, f"demo exited early:\n{seen}{proc.stderr.read()}"
                seen += line
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted: stopping every process" in err
    assert still_running(run_marker) == []
