"""The ``wsh-nb demo`` tour: the seed's four cluster workflows on three local backends, with real commands.

    1. cluster   three ``wsh-nb serve`` backends (build-1, test-1, deploy-1) + an in-process ``Hub``
    2. fan-out   three jobs tagged ``ci`` on three servers, collected by a cluster-wide idle race
    3. pipeline  build → test → deploy on different servers, each stage checked before the next
    4. failure   a backend killed mid-fan-out: partial results, ``unavailable`` in the health table, the
                 lost job recreated on another backend with the same tags, the backend restarted

Every job is a shell script run in a real session; it ends with ``echo "EXIT=$?"`` and that marker is how
the tour decides a job has *finished* (idle only means *quiet*).  A finished job leaves the race by moving
from its tag to ``<tag>-done``, so the race only waits on work that is still running.  Every process the
tour starts is stopped on the way out — normal exit, an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import IdleTimeout, NoSessions, ServerUnavailable, WshError
from ..launchers import LaunchError, LocalCluster

HOSTNAMES = ("build-1", "test-1", "deploy-1")
SERVER_COLUMNS = ["hostname", "address", "health", "sessions", "latency_ms", "error"]
MARKER = re.compile(r"^EXIT=(\d+)\s*$", re.MULTILINE)
QUIET_MS = 400  # a job prints at least every ~0.15 s, so this much silence means "settled"


# -- output ---------------------------------------------------------------------------------------
class Log:
    """Flushed progress lines with the time since the tour started."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def stage(self, title: str) -> None:
        print(f"\n== {title} ==", flush=True)

    def line(self, text: str) -> None:
        print(f"[{self.elapsed:5.1f}s] {text}", flush=True)

    def table(self, frame: Any) -> None:
        text = frame.to_string(index=False) if len(frame) else "(empty)"
        print("\n".join("    " + row for row in text.splitlines()), flush=True)


# -- jobs -----------------------------------------------------------------------------------------
@dataclass
class Job:
    """One command in one session; ``status`` is parsed from its ``EXIT=`` marker."""

    name: str
    server: str
    command: str
    tags: list[str]
    started: float = 0.0
    status: int | None = None
    tail: str = ""
    seconds: float | None = None
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status is not None


def parse_screen(text: str) -> tuple[int | None, str, dict[str, str]]:
    """(exit status or None if the marker is missing, last output line, ``KEY=value`` pairs printed)."""
    found = list(MARKER.finditer(text))
    if not found:
        return None, "", {}
    output = text[: found[-1].start()].splitlines()
    lines = [ln.rstrip() for ln in output if ln.strip() and not ln.startswith("$ ")]
    pairs = dict(re.findall(r"\b([A-Z][A-Z0-9_]+)=(\S+)", "\n".join(lines)))
    return int(found[-1].group(1)), (lines[-1] if lines else ""), pairs


def start(hub: Any, jobs: list[Job], work: Path) -> None:
    """Create every job's session, then send each its command once its shell shows the ``$`` prompt.

    Waiting for the prompt matters: input typed before the shell is up is echoed ahead of the prompt,
    and the shell's ``$ `` then lands in front of the command's first output line.
    """
    sessions = [
        hub.create_session(
            job.name,
            server=job.server,
            tags=job.tags,
            command="exec sh -i",
            cwd=str(work),
            env={"PS1": "$ "},
            cols=120,
        )
        for job in jobs
    ]
    for job, session in zip(jobs, sessions, strict=True):
        result = session.wait_idle(timeout_ms=100, max_wait_ms=15000)
        while not result.screen.text.rstrip().endswith("$"):
            result = session.wait_idle(timeout_ms=100, max_wait_ms=15000, after_last=True)
        session.send(f'{job.command}; echo "EXIT=$?"\n')
        job.started = time.monotonic()


def finish(hub: Any, job: Job, text: str, race_tag: str | None) -> bool:
    """Record the job's result if its marker is on screen; take it out of the race.  True when done."""
    status, tail, pairs = parse_screen(text)
    if status is None:
        return False
    job.status, job.tail, job.extra = status, tail, pairs
    job.seconds = time.monotonic() - job.started
    if race_tag is not None:
        hub.untag(job.name, race_tag, server=job.server)
        hub.tag(job.name, f"{race_tag}-done", server=job.server)
    return True


def healthy(hub: Any, server: str) -> bool:
    try:
        return hub.server(server)["health"] == "healthy"
    except WshError:
        return False


def collect(hub: Any, jobs: list[Job], tag: str, log: Log, *, max_wait_s: float) -> Iterator[Job]:
    """Cluster-wide idle race over ``tag``, iterated with ``last=``; yields each job as it finishes.

    A job whose server is no longer healthy is given up on (``note`` says why) instead of waited for.
    """
    by_key = {(j.server, j.name): j for j in jobs}
    deadline = time.monotonic() + max_wait_s
    last = None
    while True:
        for job in jobs:
            if not job.done and not job.note and not healthy(hub, job.server):
                job.note = f"lost: {job.server} is {hub.server(job.server)['health']}"
                log.line(f"{job.server}/{job.name}: {job.note}")
        pending = [j for j in jobs if not j.done and not j.note]
        if not pending:
            return
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            for job in pending:
                job.note = "timed out"
            return
        try:
            result = hub.wait_idle(tag=tag, timeout_ms=QUIET_MS, max_wait_ms=left_ms, last=last)
        except (NoSessions, ServerUnavailable):
            continue  # a candidate's server dropped out during the race: re-check health, race again
        except IdleTimeout:
            continue
        last = result
        job = by_key.get((result.server, result.session))
        if job is None or job.done:
            continue
        if finish(hub, job, result.screen.text, tag):
            yield job


def results_frame(jobs: list[Job]) -> Any:
    import pandas as pd

    rows = [
        {
            "server": j.server,
            "session": j.name,
            "status": "ok" if j.status == 0 else (f"EXIT={j.status}" if j.done else j.note or "?"),
            "seconds": f"{j.seconds:.1f}" if j.seconds is not None else "-",
            "tail": j.tail[:60],
        }
        for j in jobs
    ]
    return pd.DataFrame(rows, columns=["server", "session", "status", "seconds", "tail"])


def servers_table(hub: Any, log: Log) -> None:
    frame = hub.servers()[SERVER_COLUMNS].astype(object)
    frame["sessions"] = [("-" if v != v or v is None else int(v)) for v in frame["sessions"]]
    frame["latency_ms"] = [("-" if v != v or v is None else f"{v:.1f}") for v in frame["latency_ms"]]
    frame["error"] = [("" if v != v or v is None else str(v)[:60]) for v in frame["error"]]
    log.table(frame)


def kill_sessions(hub: Any, jobs: list[Job]) -> None:
    for job in jobs:
        with contextlib.suppress(WshError):
            hub.kill(job.name, server=job.server)


# -- the scripts the jobs run ---------------------------------------------------------------------
def write_scripts(work: Path, *, fast: bool) -> None:
    """Small, real shell scripts in the tour's scratch directory (shared by the three local backends)."""
    py = shlex.quote(sys.executable)
    n = 4 if fast else 6
    scripts = {
        # fan-out: three different kinds of work
        "compile.sh": f"""
            mkdir -p src
            for m in $(seq 1 {n}); do
              printf 'def f%s(x):\\n    return x * %s\\n' $m $m > src/mod$m.py
              {py} -m py_compile src/mod$m.py && echo "compiled src/mod$m.py"
              sleep 0.05
            done
            echo "MODULES=$(ls src/*.py | wc -l)"
        """,
        "checksum.sh": f"""
            for i in $(seq 1 {n + 2}); do
              head -c 262144 /dev/urandom > blob$i
              echo "blob$i $(sha256sum blob$i | cut -c1-16)"
              sleep 0.08
            done
            rm -f blob*
        """,
        "unit.sh": f"""
            for t in parse route idle tags screen health{"" if fast else " placement race"}; do
              {py} -c "assert sum(range(10)) == 45" && echo "test_$t ... ok"
              sleep 0.05
            done
        """,
        # pipeline: the artifact and its checksum travel from stage to stage
        "build.sh": f"""
            rm -rf app && mkdir -p app/pkg
            for m in core api cli; do
              printf 'NAME = "%s"\\n' $m > app/pkg/$m.py && echo "build pkg/$m.py"
              sleep 0.05
            done
            {py} -m compileall -q app/pkg && echo "compiled $(ls app/pkg/*.py | wc -l) modules"
            tar czf app.tar.gz app
            echo "ARTIFACT=app.tar.gz SHA256=$(sha256sum app.tar.gz | cut -c1-16)"
        """,
        "test.sh": f"""
            set -e
            test "$(sha256sum "$1" | cut -c1-16)" = "$2" && echo "checksum $2 verified"
            rm -rf t && mkdir t && tar xzf "$1" -C t
            for m in core api cli; do
              {py} -c "import sys; sys.path.insert(0, 't/app'); import pkg.$m as m; assert m.NAME == '$m'"
              echo "test_import_$m ... ok"
              sleep 0.05
            done
            echo "PASSED=3"
        """,
        "deploy.sh": """
            set -e
            mkdir -p releases && cp "$1" "releases/app-$2.tar.gz" && ln -sfn "app-$2.tar.gz" releases/current
            echo "deployed releases/app-$2.tar.gz"
            echo "CURRENT=$(readlink releases/current)"
        """,
        # failure drill: a longer job, long enough to lose its server halfway
        "integration.sh": f"""
            for i in $(seq 1 {10 if fast else 16}); do
              echo "integration step $i"
              sleep 0.1
            done
        """,
    }
    for name, body in scripts.items():
        lines = [ln[12:] if ln.startswith(" " * 12) else ln.strip() for ln in body.strip("\n").splitlines()]
        (work / name).write_text("\n".join(lines) + "\n")


# -- the stages -----------------------------------------------------------------------------------
def stage_cluster(hub: Any, cluster: LocalCluster, log: Log) -> None:
    log.stage("1. cluster: three backends and an in-process hub")
    for backend in cluster:
        hub.add_server(backend.url)
        log.line(f"registered {backend.hostname} at {backend.url} (pid {backend.pid})")
    hub.wait_healthy(*HOSTNAMES, timeout=15)
    log.line("every backend is healthy")
    servers_table(hub, log)


def stage_fanout(hub: Any, work: Path, log: Log) -> bool:
    log.stage("2. fan-out: three jobs tagged 'ci' on three servers, one idle race")
    jobs = [
        Job("compile", "build-1", "sh compile.sh", ["ci"]),
        Job("checksum", "test-1", "sh checksum.sh", ["ci"]),
        Job("unit", "deploy-1", "sh unit.sh", ["ci"]),
    ]
    start(hub, jobs, work)
    for job in jobs:
        log.line(f"{job.server}/{job.name}: started  $ {job.command}")
    listing = hub.sessions(tag="ci")
    log.line(f"hub.sessions(tag='ci'): {len(listing)} sessions on {', '.join(sorted(set(listing.server)))}")
    for job in collect(hub, jobs, "ci", log, max_wait_s=20):
        log.line(f"race winner: {job.server}/{job.name} EXIT={job.status} after {job.seconds:.1f} s")
    log.line("results:")
    log.table(results_frame(jobs))
    kill_sessions(hub, jobs)
    return all(j.status == 0 for j in jobs)


def run_stage(hub: Any, job: Job, work: Path, log: Log) -> bool:
    """One pipeline stage: send, wait for idle, read the screen, decide."""
    start(hub, [job], work)
    log.line(f"[{job.name}] on {job.server}: $ {job.command}")
    deadline = time.monotonic() + 20
    session = hub.session(job.name)  # placement memory: no server needed
    while not job.done and time.monotonic() < deadline:
        left = max(1, int((deadline - time.monotonic()) * 1000))
        with contextlib.suppress(IdleTimeout):
            result = session.wait_idle(timeout_ms=QUIET_MS, max_wait_ms=left, after_last=True)
            finish(hub, job, result.screen.text, None)
    verdict = "ok" if job.status == 0 else ("FAILED" if job.done else "timed out")
    log.line(f"[{job.name}] {verdict} EXIT={job.status} in {job.seconds or 0:.1f} s: {job.tail}")
    return job.status == 0


def stage_pipeline(hub: Any, work: Path, log: Log) -> bool:
    log.stage("3. pipeline: build on build-1 -> test on test-1 -> deploy on deploy-1")
    build = Job("build", "build-1", "sh build.sh", ["pipeline"])
    stages = [build]
    ok = run_stage(hub, build, work, log)
    artifact, sha = build.extra.get("ARTIFACT"), build.extra.get("SHA256")
    if ok and not (artifact and sha):
        log.line("[build] printed no ARTIFACT=/SHA256= line; stopping")
        ok = False
    if ok:
        log.line(f"[build] artifact {artifact} sha256 {sha}: handing it to the test stage")
        test = Job("test", "test-1", f"sh test.sh {artifact} {sha}", ["pipeline"])
        stages.append(test)
        ok = run_stage(hub, test, work, log)
    if ok:
        deploy = Job("deploy", "deploy-1", f"sh deploy.sh {artifact} {sha}", ["pipeline"])
        stages.append(deploy)
        ok = run_stage(hub, deploy, work, log) and deploy.extra.get("CURRENT") == f"app-{sha}.tar.gz"
    log.line("pipeline " + ("passed: every stage checked before the next" if ok else "STOPPED"))
    kill_sessions(hub, stages)
    return ok


def watch_until(hub: Any, job: Job, text: str, *, max_wait_s: float) -> str:
    """Follow one running job until ``text`` is on its screen; returns that line.

    The job prints every 0.1 s, so a 50 ms quiet spell comes between any two lines: each wait returns
    with the screen as it stands, and ``after_last`` makes the next one wait for new output first.
    """
    session = hub.session(job.name, server=job.server)
    deadline = time.monotonic() + max_wait_s
    while time.monotonic() < deadline:
        left = max(1, int((deadline - time.monotonic()) * 1000))
        screen = session.wait_idle(timeout_ms=50, max_wait_ms=left, after_last=True).screen
        for line in screen.lines:
            if line.startswith(text):
                return line.rstrip()
    raise IdleTimeout(f"{job.server}/{job.name} did not print {text!r} within {max_wait_s} s")


def stage_failure(hub: Any, cluster: LocalCluster, work: Path, log: Log) -> bool:
    log.stage("4. failure drill: lose test-1 mid-fan-out, recover by tags")
    victim = Job("integration", "test-1", "sh integration.sh", ["nightly"])
    jobs = [
        Job("lint", "build-1", "sh unit.sh", ["nightly"]),
        victim,
        Job("smoke", "deploy-1", "sh checksum.sh", ["nightly"]),
    ]
    start(hub, jobs, work)
    for job in jobs:
        log.line(f"{job.server}/{job.name}: started  $ {job.command}")
    progress = watch_until(hub, victim, "integration step 3", max_wait_s=15)
    log.line(f"{victim.server}/{victim.name} is running ({progress!r})")
    log.line(f"killing the test-1 backend (SIGKILL, pid {cluster['test-1'].pid}) mid-fan-out")
    cluster["test-1"].kill()
    for job in collect(hub, jobs, "nightly", log, max_wait_s=20):
        log.line(f"race winner: {job.server}/{job.name} EXIT={job.status}")
    log.line("partial results:")
    log.table(results_frame(jobs))
    listing = hub.sessions(tag=["nightly", "nightly-done"])
    log.line(
        f"hub.sessions(tag=['nightly', 'nightly-done']): {len(listing)} sessions listed, "
        f"attrs['partial'] = {listing.attrs['partial']} (left out: not healthy)"
    )
    try:
        hub.screen(victim.name)
        log.line("reading the lost session's screen unexpectedly worked")
    except ServerUnavailable as exc:
        log.line(f"hub.screen({victim.name!r}) -> ServerUnavailable: {str(exc).split(' (')[0]}")
    log.line("health table:")
    servers_table(hub, log)
    lost_health = hub.server("test-1")["health"]

    target = next(h for h in HOSTNAMES if h != victim.server and healthy(hub, h))
    retry = Job(f"{victim.name}-retry", target, victim.command, list(victim.tags))
    log.line(f"recreating {victim.name} as {retry.name} on {target} with the same tags {retry.tags}")
    start(hub, [retry], work)
    for job in collect(hub, [retry], "nightly", log, max_wait_s=20):
        log.line(f"race winner: {job.server}/{job.name} EXIT={job.status} after {job.seconds:.1f} s")
    log.table(results_frame([*jobs, retry]))

    log.line("restarting the test-1 backend on the same port")
    cluster["test-1"].restart()
    hub.wait_healthy("test-1", timeout=15)
    back = hub.server("test-1")["health"]
    left = len(hub.sessions(server="test-1"))
    log.line(f"test-1 is {back} again; its old sessions died with the process: {left} left")
    servers_table(hub, log)
    kill_sessions(hub, [*jobs, retry])
    recovered = [j for j in jobs if j is not victim] + [retry]
    return (
        victim.note.startswith("lost")
        and lost_health == "unavailable"
        and all(j.status == 0 for j in recovered)
        and back == "healthy"
    )


# -- entry point ----------------------------------------------------------------------------------
def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace | None = None) -> int:
    """``wsh-nb demo``: 0 when every workflow did what it should, 1 when one did not, 130 on Ctrl-C."""
    fast = bool(getattr(args, "fast", False))
    log = Log()
    print(
        "wsh-nb demo: three local wsh backends, an in-process hub, the seed's cluster workflows", flush=True
    )
    old = signal.signal(signal.SIGTERM, _sigterm) if _main_thread() else None
    work = Path(tempfile.mkdtemp(prefix="wsh-nb-demo-"))
    cluster = LocalCluster(3, HOSTNAMES, log_dir=work)
    try:
        from ..notebook.facade import Hub  # pandas and the hub stack load here, not at CLI start-up

        log.stage("0. starting")
        log.line(f"scratch directory {work}")
        write_scripts(work, fast=fast)
        cluster.start()
        log.line("started " + ", ".join(f"{b.hostname} (pid {b.pid})" for b in cluster))
        with Hub(hostname="hub") as hub:
            stage_cluster(hub, cluster, log)
            results = {
                "fan-out": stage_fanout(hub, work, log),
                "pipeline": stage_pipeline(hub, work, log),
                "failure drill": stage_failure(hub, cluster, work, log),
            }
        log.stage("done")
        for name, ok in results.items():
            log.line(f"{name}: {'ok' if ok else 'FAILED'}")
        return 0 if all(results.values()) else 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping every process", file=sys.stderr, flush=True)
        return 130
    except (WshError, LaunchError, TimeoutError) as exc:
        print(f"\ndemo failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        for backend in cluster:
            if backend.log_path and backend.log_path.exists():
                tail = backend.log_path.read_text(errors="replace")[-600:].strip()
                if tail:
                    print(f"--- {backend.hostname} log ---\n{tail}", file=sys.stderr, flush=True)
        return 1
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        log.line("cleaned up: hub closed, every backend stopped, scratch directory removed")


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
