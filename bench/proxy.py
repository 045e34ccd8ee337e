"""Proxy benchmark: a screen read through a hub server vs straight from the backend.

    python bench/proxy.py [--calls 1000] [--format styled]

Starts a backend and a hub (two real ``wsh-nb serve`` processes), registers the backend, fills a session's
screen, then times ``GET /sessions/s/screen?server=<backend>`` on the hub and ``GET /sessions/s/screen``
on the backend, interleaved, sequentially, over keep-alive aiohttp connections.  Prints p50/p99 of each
and the ratio of the medians (the hub adds one hop: receive, route, proxy, validate, answer).
No assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import httpx

from wsh_nb.launchers import BackendProcess


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def main(args: argparse.Namespace) -> None:
    log_dir = Path(tempfile.mkdtemp(prefix="wsh-proxy-"))
    backend = BackendProcess(hostname="far", log_path=log_dir / "far.log").start(60)
    hub = BackendProcess(hostname="hub", log_path=log_dir / "hub.log").start(60)
    try:
        with httpx.Client(timeout=30) as c:
            c.post(f"{hub.url}/servers", json={"address": backend.url}).raise_for_status()
            c.post(f"{backend.url}/sessions", json={"name": "s", "command": "cat"}).raise_for_status()
            text = "".join(f"\x1b[3{i % 8}mline {i} " + "x" * 40 + "\x1b[0m\r\n" for i in range(40))
            c.post(f"{backend.url}/sessions/s/input", content=text.encode()).raise_for_status()
            c.get(f"{backend.url}/sessions/s/idle", params={"timeout_ms": 200}).raise_for_status()
            deadline = time.monotonic() + 10
            while c.get(f"{hub.url}/servers/far").json()["health"] != "healthy":
                if time.monotonic() > deadline:
                    raise SystemExit("the hub never saw the backend healthy")
                time.sleep(0.02)
        urls = {
            "direct": f"{backend.url}/sessions/s/screen?format={args.format}",
            "hub": f"{hub.url}/sessions/s/screen?format={args.format}&server=far",
        }
        times: dict[str, list[float]] = {k: [] for k in urls}
        async with aiohttp.ClientSession() as session:
            for _ in range(50):  # warm up
                for url in urls.values():
                    async with session.get(url) as resp:
                        await resp.read()
            for _ in range(args.calls):
                for name, url in urls.items():
                    t = time.perf_counter()
                    async with session.get(url) as resp:
                        body = await resp.read()
                    times[name].append((time.perf_counter() - t) * 1000)
                    assert resp.status == 200, body[:200]
        print(f"{args.calls} sequential {args.format} screen reads ({len(body)} bytes), ms:")
        for name, values in times.items():
            print(f"  {name:7s} p50 {statistics.median(values):6.3f}   p99 {pct(values, 0.99):6.3f}")
        ratio = statistics.median(times["hub"]) / statistics.median(times["direct"])
        print(f"\nhub / direct (p50) = {ratio:.2f}")
    finally:
        hub.stop()
        backend.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--format", default="styled", choices=["styled", "plain"])
    asyncio.run(main(parser.parse_args()))
