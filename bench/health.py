"""Health-detection benchmark: how fast the monitor notices a killed, frozen and restarted backend.

    python bench/health.py [--runs 5]

With the default HealthSettings (ping 0.5 s, pong deadline 1 s, open timeout 2 s, backoff 0.1 s → 1 s),
against real ``wsh-nb serve`` processes and real signals, measures per run:
  add      Federation.add → healthy with its hostname            (target ≤ 1 s)
  kill     SIGKILL → unavailable                                  (target ≤ 0.5 s)
  freeze   SIGSTOP → unavailable                                  (target ≤ 3 s)
  thaw     SIGCONT → healthy again                                (target ≤ 2.5 s)
  restart  process listening again on the same port → healthy,   (target ≤ 2.5 s)
           after a 3 s outage (backoff at its cap)
Prints the median and max of each.  No assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wsh_nb.events import EventBus
from wsh_nb.federation import Federation, Health, HealthSettings
from wsh_nb.launchers import BackendProcess

TARGETS = {"add": 1.0, "kill": 0.5, "freeze": 3.0, "thaw": 2.5, "restart": 2.5}


async def until(pred, timeout: float = 30.0) -> float:
    start = time.monotonic()
    while not pred():
        if time.monotonic() - start > timeout:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.002)
    return time.monotonic() - start


async def one_run(log_dir: Path, i: int) -> dict[str, float]:
    backend = BackendProcess(hostname=f"bench-{i}", log_path=log_dir / f"b{i}.log")
    await asyncio.to_thread(backend.start, 60)
    fed = Federation(
        own_hostname="bench-hub",
        own_server_id=str(uuid.uuid4()),
        events=EventBus(),
        settings=HealthSettings(),
    )
    out: dict[str, float] = {}
    try:
        entry = await fed.add(backend.url)
        out["add"] = await until(lambda: entry.health is Health.HEALTHY and entry.hostname is not None)
        await asyncio.sleep(0.7)  # let a ping or two go by, as in steady state
        backend.kill()
        out["kill"] = await until(lambda: entry.health is Health.UNAVAILABLE)
        await asyncio.to_thread(backend.start, 60)
        await until(lambda: entry.health is Health.HEALTHY)
        await asyncio.sleep(0.7)
        backend.freeze()
        out["freeze"] = await until(lambda: entry.health is Health.UNAVAILABLE)
        backend.thaw()
        out["thaw"] = await until(lambda: entry.health is Health.HEALTHY)
        backend.kill()
        await until(lambda: entry.health is Health.UNAVAILABLE)
        await asyncio.sleep(3.0)  # the outage: the backoff reaches its cap
        await asyncio.to_thread(backend.start, 60)
        out["restart"] = await until(lambda: entry.health is Health.HEALTHY)
    finally:
        await fed.aclose()
        backend.kill()
    return out


async def main(runs: int) -> None:
    log_dir = Path(tempfile.mkdtemp(prefix="wsh-health-"))
    results: dict[str, list[float]] = {k: [] for k in TARGETS}
    for i in range(runs):
        got = await one_run(log_dir, i)
        for k, v in got.items():
            results[k].append(v)
        print(f"run {i + 1}: " + "  ".join(f"{k} {v * 1000:.0f} ms" for k, v in got.items()), flush=True)
    print(f"\n{runs} runs, default HealthSettings:")
    for k, values in results.items():
        med, worst = statistics.median(values), max(values)
        verdict = "ok" if worst <= TARGETS[k] else "MISSED"
        print(
            f"  {k:8s} median {med * 1000:7.0f} ms   max {worst * 1000:7.0f} ms   "
            f"target {TARGETS[k] * 1000:.0f} ms  {verdict}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
