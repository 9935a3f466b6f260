"""Dyads one core sustains in real time: the whole default pipeline, offline and live.

Offline: the simulated dyad (ECG 500 Hz, RSP 50 Hz, EDA 32 Hz per person) is
generated first, then fed in 0.1 s chunks, interleaved by time as an inlet
delivers them, through the session pipeline (heart rate, quality,
respiration, EDA, RSA, baseline, synchrony, concordance, coregulation,
dissonance). CPU seconds per second of dyad give dyads per core.

Live: the real service in this process, one session per dyad, each fed over
real LSL on loopback by a ``dyadscope simulate`` process (so the simulators'
own cost is not counted). This process's CPU time over the run, per dyad,
includes everything the service does: LSL pulls, queues, the pipeline,
numbering and publishing events.

    python benchmarks/bench_pipeline.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from pathlib import Path

from dyadscope.sensors.simulate import SimulatedDyad
from dyadscope.stream.processors.registry import default_pipeline
from dyadscope.stream.types import Chunk

DYADSCOPE = str(Path(sys.executable).with_name("dyadscope"))


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def offline(seconds: int) -> tuple[float, int]:
    """CPU seconds per second of one dyad through the pipeline, and the events it gave."""
    dyad = SimulatedDyad(seed=7)
    chunks: list[Chunk] = []
    for step in range(1, seconds * 10 + 1):
        chunks.extend(c for c in dyad.read_until(step / 10) if len(c))
    pipeline = default_pipeline()
    events = 0
    start = time.process_time()
    for chunk in chunks:
        events += len(pipeline.process(chunk))
    return (time.process_time() - start) / seconds, events


async def live(dyads: int, seconds: float) -> tuple[float, int]:
    """CPU share of the service per dyad, over real LSL, and the events it logged."""
    from dyadscope.service.config import Config
    from dyadscope.service.runner import Service

    service = Service(Config.from_env({}, port=0, token="none"))
    await service.start()
    simulators = [
        subprocess.Popen(
            [DYADSCOPE, "simulate", "--seed", str(100 + k), "--duration", str(seconds + 30)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for k in range(dyads)
    ]
    try:
        sessions = []
        for k in range(dyads):
            prefix = f"dyadscope-sim-{100 + k}-"
            sessions.append(await service.manager.create(f"d{k}", select=lambda i, p=prefix: i.source_id.startswith(p)))
        deadline = time.monotonic() + 30
        while any(len(s.streams) < 6 for s in sessions):
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not find every simulated stream in 30 s")
            await asyncio.sleep(0.2)
        await asyncio.sleep(3.0)  # past discovery and the first clock offsets
        first = [s.log.last_seq for s in sessions]
        wall, cpu = time.monotonic(), cpu_seconds()
        await asyncio.sleep(seconds)
        cpu, wall = cpu_seconds() - cpu, time.monotonic() - wall
        events = sum(s.log.last_seq - n for s, n in zip(sessions, first))
    finally:
        for proc in simulators:
            proc.terminate()
        await service.stop()
    return cpu / wall / dyads, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 s offline, 10 s live")
    args = parser.parse_args()
    seconds, live_s, dyads = (60, 10.0, 1) if args.quick else (600, 30.0, 2)

    per_second, events = offline(seconds)
    print(f"offline: {seconds} s of one dyad through the whole pipeline")
    print(f"  {per_second * 1000:.2f} ms CPU per second of dyad -> {1 / per_second:.0f} dyads per core")
    print(f"  {events / seconds:.1f} events per second of dyad")
    share, live_events = asyncio.run(live(dyads, live_s))
    print(f"live: {dyads} dyad(s) over real LSL into the service for {live_s:.0f} s")
    print(f"  {share * 100:.2f} % of one core per dyad -> {1 / share:.0f} dyads per core")
    print(f"  {live_events / live_s / dyads:.1f} events per second per dyad")


if __name__ == "__main__":
    main()
