"""What the rig's stream previews add to a session's event log: events per second of data, previews and the rest.

The real service in this process, one session fed over real LSL on loopback
by the simulated dyad (six streams); after ``--seconds`` of running, its log
is read back over the websocket and counted per second of data time (after
a 10 s warm-up).

    python benchmarks/bench_rig_events.py [--seconds 70]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import tempfile
import time
import uuid
from pathlib import Path

from websockets.asyncio.client import connect

from dyadscope.sensors.lsl import local_clock
from dyadscope.sensors.lsl_outlets import LslPublisher
from dyadscope.sensors.simulate import SimulatedDyad
from dyadscope.service.config import Config
from dyadscope.service.runner import Service
from dyadscope.stream.selection import StreamSelection


async def measure(seconds: float, data_dir: Path) -> dict[str, float]:
    tag = uuid.uuid4().hex[:8]
    publisher = LslPublisher(SimulatedDyad(5, start_time=local_clock(), tag=tag))
    publisher.start()
    config = Config.from_env({}, host="127.0.0.1", port=0, data_dir=data_dir).with_token()
    service = Service(config)
    await service.start()
    try:
        await service.manager.create("m", selection=StreamSelection((f"name:* {tag}",)))
        await asyncio.sleep(seconds)
        until, events = time.time(), []
        url = f"ws://127.0.0.1:{service.port}/ws/sessions/m?after=0"
        async with connect(url, additional_headers={"Authorization": f"Bearer {config.token}"}) as ws:
            while not events or events[-1]["t_emit"] < until:
                events.append(json.loads(await ws.recv()))
    finally:
        await service.manager.stop_all()
        await service.stop()
        publisher.stop()
    previews = sorted(e["t"] for e in events if e["kind"] == "stream_preview")
    lo, hi = previews[0] + 10.0, previews[-1]
    counts = collections.Counter(
        "stream_preview" if e["kind"] == "stream_preview" else "other" for e in events if lo <= e["t"] <= hi
    )
    return {"data_s": hi - lo, **{kind: n / (hi - lo) for kind, n in counts.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=70.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        found = asyncio.run(measure(args.seconds, Path(folder)))
    print(
        f"{found['data_s']:.0f} s of data: {found.get('other', 0):.1f} events/s besides "
        f"{found.get('stream_preview', 0):.1f} stream_preview/s"
    )


if __name__ == "__main__":
    main()
