"""Facade benchmark: what the in-kernel ``Hub`` costs on top of the wire, measured in one run.

    python bench/facade.py [--rounds 400] [--backends 32] [--sessions 30] [--list-rounds 30]

1. screen: a routed ``s.screen()`` through the in-kernel Hub (caller thread → hub loop thread → backend
   → ``ScreenView``) vs a direct ``httpx.Client`` GET of the same backend's screen (decoded JSON).
   Goal: p50 ratio ≤ 1.15.
2. listing: ``hub.sessions()`` over N backends × M sessions, timed until the DataFrame is ready, vs a bare
   concurrent aiohttp gather of the same N ``GET /sessions`` (decoded JSON) on a loop in the caller's thread.
   Goal: p50 ratio ≤ 1.3.
The variants alternate round by round so they share the machine's state.  Prints figures; no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import httpx
import orjson

from wsh_nb import Hub
from wsh_nb.federation.transport import Transport
from wsh_nb.launchers import LocalCluster


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def report(label: str, ours: list[float], base: list[float], goal: float) -> None:
    p50, b50 = statistics.median(ours), statistics.median(base)
    print(f"  hub     p50 {p50:8.3f} ms   p90 {pct(ours, 0.9):8.3f} ms")
    print(f"  direct  p50 {b50:8.3f} ms   p90 {pct(base, 0.9):8.3f} ms")
    print(f"  {label}: ratio p50 {p50 / b50:.2f}x (goal <= {goal}x)", flush=True)


def bench_screen(hub: Hub, url: str, rounds: int) -> None:
    s = hub.create_session("screen-bench", server="node-1", command="cat")
    s.send("hello from the benchmark\n")
    s.wait_idle(timeout_ms=100)
    ours: list[float] = []
    base: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(50):  # warm both paths (connections, caches)
            s.screen()
            client.get("/sessions/screen-bench/screen").json()
        for _ in range(rounds):
            t = time.perf_counter()
            s.screen()
            ours.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            client.get("/sessions/screen-bench/screen").json()
            base.append((time.perf_counter() - t) * 1000)
    s.kill()
    print(f"screen ({rounds} rounds): routed s.screen() vs httpx.Client GET on the backend")
    report("screen", ours, base, 1.15)


def bench_listing(hub: Hub, urls: list[str], expected: int, rounds: int) -> None:
    loop = asyncio.new_event_loop()
    session = loop.run_until_complete(_client())

    async def gather() -> int:
        async def one(url: str) -> list:
            async with session.get(f"{url}/sessions") as resp:
                return orjson.loads(await resp.read())

        return sum(len(x) for x in await asyncio.gather(*(one(u) for u in urls)))

    lean = {u: Transport(u, headers={}, connect_timeout=5, max_body=16 << 20) for u in urls}

    async def gather_lean() -> int:  # the same gather on the hub's own transport, the fastest client here
        async def one(url: str) -> list:
            return orjson.loads((await lean[url].request("GET", "/sessions", timeout=30))[1])

        return sum(len(x) for x in await asyncio.gather(*(one(u) for u in urls)))

    ours: list[float] = []
    base_lean: list[float] = []
    base: list[float] = []
    core: list[float] = []  # attribution: the AsyncHub listing alone, called through the loop thread
    list_sessions = hub._core.hub.list_sessions
    try:
        for _ in range(5):
            hub.sessions()
            loop.run_until_complete(gather())
            loop.run_until_complete(gather_lean())
        for _ in range(rounds):
            t = time.perf_counter()
            frame = hub.sessions()
            ours.append((time.perf_counter() - t) * 1000)
            assert len(frame) == expected and not frame.attrs["partial"], frame.attrs["partial"]
            t = time.perf_counter()
            n = loop.run_until_complete(gather())
            base.append((time.perf_counter() - t) * 1000)
            assert n == expected
            t = time.perf_counter()
            assert loop.run_until_complete(gather_lean()) == expected
            base_lean.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            hub._loop.call(list_sessions)
            core.append((time.perf_counter() - t) * 1000)
    finally:
        loop.run_until_complete(session.close())
        loop.close()
    print(
        f"listing ({rounds} rounds): hub.sessions() DataFrame vs bare aiohttp gather, "
        f"{len(urls)} backends x {expected // len(urls)} sessions"
    )
    report("listing", ours, base, 1.3)
    report("listing vs a gather on the hub's own transport", ours, base_lean, 1.3)
    c50, b50, o50 = statistics.median(core), statistics.median(base), statistics.median(ours)
    print(
        f"  of which AsyncHub.list_sessions (through the loop thread, no DataFrame): p50 {c50:.3f} ms = "
        f"{c50 / b50:.2f}x the gather; the facade adds {o50 - c50:.3f} ms"
    )


async def _client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--backends", type=int, default=32)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--list-rounds", type=int, default=30)
    args = parser.parse_args()

    log_dir = Path(tempfile.mkdtemp(prefix="wsh-facade-"))
    names = [f"node-{i + 1}" for i in range(args.backends)]
    print(f"starting {args.backends} backends ...", flush=True)
    with LocalCluster(hostnames=names, log_dir=log_dir).start(timeout=180) as cluster:
        urls = [b.url for b in cluster]

        def populate(url: str) -> None:
            with httpx.Client(base_url=url, timeout=60) as c:
                for j in range(args.sessions):
                    c.post("/sessions", json={"name": f"s{j}", "command": "cat"}).raise_for_status()

        print(f"creating {args.backends * args.sessions} sessions ...", flush=True)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(populate, urls))
        with Hub(hostname="bench-kernel", listing_timeout=30) as hub:
            for url in urls:
                hub.add_server(url)
            hub.wait_healthy(timeout=60)
            bench_screen(hub, urls[0], args.rounds)
            bench_listing(hub, urls, args.backends * args.sessions, args.list_rounds)


if __name__ == "__main__":
    main()
