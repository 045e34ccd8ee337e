"""Fan-out benchmark: the hub's aggregated ``GET /sessions`` over N backends vs doing it by hand.

    python bench/fanout.py [--backends 32] [--sessions 2] [--rounds 40]

Starts N real ``wsh-nb serve`` backends (each with a few ``cat`` sessions) and, in one run, interleaving
the variants round by round so they share the same machine state, times:
  hub        AsyncHub.list_sessions() in this process (concurrent, sanitized, health-aware)
  hub-http   GET /sessions on a real ``wsh-nb serve`` hub process that federates the same backends
  seq        the same N GET /sessions one after another (upstream's way), aiohttp keep-alive client
  seq-lean   the same, one after another, with the hub's own keep-alive transport
  gather     a bare asyncio.gather of the same N calls, aiohttp keep-alive client
  gather-lean  the same gather with the hub's own transport (the fastest client here: the fair baseline)
  httpx      the same gather with httpx's own transport
Prints medians (ms) and the ratios against each baseline (goals: ≤ 0.5 sequential, ≤ 1.3 bare gather with
the fastest client).  No assertions.
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
import orjson

from wsh_nb.federation.transport import Transport
from wsh_nb.hub import AsyncHub
from wsh_nb.launchers import BackendProcess, LocalCluster


async def timed(fn) -> float:
    t = time.perf_counter()
    await fn()
    return (time.perf_counter() - t) * 1000


async def main(args: argparse.Namespace) -> None:
    log_dir = Path(tempfile.mkdtemp(prefix="wsh-fanout-"))
    names = [f"node-{i + 1}" for i in range(args.backends)]
    print(f"starting {args.backends} backends ...", flush=True)
    cluster = LocalCluster(hostnames=names, log_dir=log_dir).start(timeout=180)  # 2 cores: slow start
    try:
        urls = [b.url for b in cluster]
        with httpx.Client(timeout=30) as c:
            for url in urls:
                for j in range(args.sessions):
                    c.post(f"{url}/sessions", json={"name": f"s{j}", "command": "cat", "tags": ["bench"]})
        hub_proc = BackendProcess(hostname="bench-hub", log_path=log_dir / "hub.log").start(60)
        try:
            with httpx.Client(base_url=hub_proc.url, timeout=30) as c:
                for url in urls:
                    c.post("/servers", json={"address": url}).raise_for_status()
            async with AsyncHub(hostname="bench-local-hub") as hub:
                for url in urls:
                    await hub.add_server(url)
                await hub.wait_healthy(timeout=30)
                await run(args, hub, hub_proc.url, urls)
        finally:
            hub_proc.stop()
    finally:
        cluster.stop()


async def run(args, hub: AsyncHub, hub_url: str, urls: list[str]) -> None:
    expected = len(urls) * args.sessions
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
    hx = httpx.AsyncClient(timeout=30, limits=limits)

    lean = {url: Transport(url, headers={}, connect_timeout=5, max_body=16 << 20) for url in urls}

    async def get_lean(url: str) -> list:
        _status, body = await lean[url].request("GET", "/sessions", timeout=30)
        return orjson.loads(body)

    async def seq_lean() -> None:
        for url in urls:
            await get_lean(url)

    async def gather_lean() -> None:
        await asyncio.gather(*(get_lean(url) for url in urls))

    async def get(url: str) -> list:
        async with session.get(f"{url}/sessions") as resp:
            return orjson.loads(await resp.read())

    async def hub_listing() -> None:
        listing = await hub.list_sessions()
        assert len(listing.sessions) == expected and not listing.partial, listing.partial

    async def hub_http() -> None:
        async with session.get(f"{hub_url}/sessions") as resp:
            assert resp.status == 200 and "X-Wsh-Partial" not in resp.headers
            assert len(orjson.loads(await resp.read())) == expected

    async def seq() -> None:
        for url in urls:
            await get(url)

    async def gather() -> None:
        await asyncio.gather(*(get(url) for url in urls))

    async def httpx_gather() -> None:
        results = await asyncio.gather(*(hx.get(f"{url}/sessions") for url in urls))
        for r in results:
            orjson.loads(r.content)

    variants = {
        "hub": hub_listing,
        "hub-http": hub_http,
        "seq": seq,
        "seq-lean": seq_lean,
        "gather": gather,
        "gather-lean": gather_lean,
        "httpx": httpx_gather,
    }
    for fn in variants.values():  # warm every keep-alive pool
        for _ in range(3):
            await fn()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            times[name].append(await timed(fn))
    await session.close()
    await hx.aclose()

    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"\n{len(urls)} backends x {args.sessions} sessions, {args.rounds} rounds, median ms "
        f"(p90 in brackets):"
    )
    for name, values in times.items():
        p90 = sorted(values)[int(len(values) * 0.9) - 1]
        print(f"  {name:11s} {med[name]:8.2f}  ({p90:.2f})")
    print(f"\nhub / seq           = {med['hub'] / med['seq']:.2f}   (goal <= 0.5; aiohttp, in sequence)")
    print(f"hub / seq-lean      = {med['hub'] / med['seq-lean']:.2f}   (the same calls with our transport)")
    print(f"hub / gather-lean   = {med['hub'] / med['gather-lean']:.2f}   (goal <= 1.3; fastest client)")
    print(f"hub / gather        = {med['hub'] / med['gather']:.2f}   (aiohttp gather)")
    print(f"gather-lean/gather  = {med['gather-lean'] / med['gather']:.2f}")
    print(f"hub-http / seq = {med['hub-http'] / med['seq']:.2f}")
    print(f"httpx / gather = {med['httpx'] / med['gather']:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", type=int, default=32)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(main(parser.parse_args()))
