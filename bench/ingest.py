"""Ingest benchmark: how fast terminal output gets from a PTY into a session's screen.

    python bench/ingest.py [--runs 3] [--no-server]

Prints, in one run (ratios are what to quote; absolute figures move ±20 % on a shared 2-core box):
1. ``seq 1 1000000`` read from a bare PTY (PtyProcess, no-op ``on_output``) until the child exits;
2. the same through the session core (PtyProcess + Screen + Activity) until the screen shows ``1000000``;
   both in MB/s and their ratio (goal ≥ 0.5×);
3. if ``wsh-nb serve`` is available: the same inside a real server session over HTTP, the latency of
   ``GET /sessions/b/screen`` (p50/p99 of 1000 keep-alive calls) and the server's RSS while it holds a
   session with 10000 scrollback lines.
No assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wsh_nb.terminal import Activity, PtyProcess, Screen

N = 1_000_000
ARGV = ["seq", "1", str(N)]
LAST = str(N).encode()
ENV = {**os.environ, "TERM": "xterm-256color"}


async def bare_pty() -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    size = 0

    def on_output(data: bytes) -> None:
        nonlocal size
        size += len(data)

    t = time.perf_counter()
    proc = PtyProcess.spawn(ARGV, env=ENV)
    proc.start(loop, on_output, lambda rc: done.set_result(rc))
    await done
    elapsed = time.perf_counter() - t
    proc.close()
    return size, elapsed


async def session_core() -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    screen = Screen(80, 24, scrollback=10000)
    activity = Activity()
    shown = loop.create_future()
    size = 0

    def on_output(data: bytes) -> None:
        nonlocal size
        size += len(data)
        screen.feed(data)
        activity.touch()
        # cheap pre-check on the chunk, then confirm on the screen itself
        if LAST in data and not shown.done() and str(N) in screen.text().split("\n"):
            shown.set_result(None)

    t = time.perf_counter()
    proc = PtyProcess.spawn(ARGV, env=ENV)
    proc.start(loop, on_output, lambda rc: activity.close())
    await shown
    elapsed = time.perf_counter() - t
    proc.close()
    assert screen.history_lines == 10000
    return size, elapsed


def mbps(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def server_part(bare_rate: float) -> None:
    try:
        import httpx

        from wsh_nb.launchers import BackendProcess
    except ImportError as exc:
        print(f"server part skipped: {exc}")
        return
    try:
        import psutil
    except ImportError:
        psutil = None
        print("(psutil missing: pip install psutil for the RSS figure)")

    backend = BackendProcess(hostname="bench")
    try:
        backend.start()
    except Exception as exc:  # the server may not exist yet in this tree
        print(f"server part skipped: wsh-nb serve did not start ({exc})")
        return
    try:
        with httpx.Client(base_url=backend.url, timeout=30) as http:
            rss0 = psutil.Process(backend.pid).memory_info().rss if psutil else None
            r = http.post("/sessions", json={"name": "b"})
            r.raise_for_status()
            # let the shell print its prompt before timing
            http.get("/sessions/b/idle", params={"timeout_ms": 200, "max_wait_ms": 10000})
            t = time.perf_counter()
            http.post("/sessions/b/input", content=f"seq 1 {N}\n".encode()).raise_for_status()
            polls = 0
            while True:
                polls += 1
                lines = http.get("/sessions/b/screen", params={"format": "plain"}).json()["lines"]
                if str(N) in lines:
                    break
                if time.perf_counter() - t > 300:
                    print("server session: gave up after 300 s")
                    return
                time.sleep(0.005)  # polling interval of a client, not synchronisation
            elapsed = time.perf_counter() - t
            size = len(b"".join(b"%d\r\n" % i for i in range(1, N + 1)))
            rate = mbps(size, elapsed)
            print(
                f"server session (HTTP) : {rate:6.1f} MB/s  {elapsed:6.2f} s  "
                f"ratio {rate / bare_rate:.2f}x bare  ({polls} polls)"
            )

            for fmt in ("styled", "plain"):
                params = {"format": fmt}
                for _ in range(50):
                    http.get("/sessions/b/screen", params=params)
                lat = []
                for _ in range(1000):
                    t0 = time.perf_counter()
                    http.get("/sessions/b/screen", params=params).raise_for_status()
                    lat.append((time.perf_counter() - t0) * 1000)
                lat.sort()
                print(
                    f"GET /sessions/b/screen?format={fmt}: p50 {lat[499]:.2f} ms  p99 {lat[989]:.2f} ms "
                    f"(1000 keep-alive calls, httpx)"
                )

            sb = http.get("/sessions/b/scrollback", params={"limit": 1}).json()
            if psutil:
                rss = psutil.Process(backend.pid).memory_info().rss
                print(
                    f"server RSS: {rss / 2**20:.1f} MiB holding a session with total_lines="
                    f"{sb['total_lines']} (idle server before the session: {rss0 / 2**20:.1f} MiB)"
                )
    finally:
        backend.stop()


async def core_part(runs: int) -> float:
    bare, core = [], []
    size_bare = size_core = 0
    for _ in range(runs):  # interleaved, so drift hits both alike
        size_bare, s = await bare_pty()
        bare.append(s)
        size_core, s = await session_core()
        core.append(s)
    tb, tc = statistics.median(bare), statistics.median(core)
    rb, rc = mbps(size_bare, tb), mbps(size_core, tc)
    print(f"seq 1 {N}: {size_bare / 1e6:.1f} MB of output, median of {runs} runs")
    print(f"bare PTY              : {rb:6.1f} MB/s  {tb:6.2f} s")
    print(
        f"session core          : {rc:6.1f} MB/s  {tc:6.2f} s  ratio {rc / rb:.2f}x bare "
        f"(PtyProcess + Screen + Activity)"
    )
    return rb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    bare_rate = asyncio.run(core_part(args.runs))
    if not args.no_server:
        server_part(bare_rate)


if __name__ == "__main__":
    main()
