"""Many monitors on one session: live event latency, resuming from a full log, memory.

A real service (its own process) holds one session whose log is first filled
to ``event_log_length`` events, then gets the simulated dyad's events paced
in real time (~20 events/s, in bursts at each 0.25 s and 1 s tick, as the
pipeline emits them). Real websocket clients in this process (another
process, so measuring does not take the service's core):

* live: ``--clients`` monitors (200) take live events for ``--live-s``;
  latency is receive time minus the event's ``t_emit`` (both this machine's
  wall clock), over every event at every monitor;
* resume: as many more monitors (two more processes) connect with ``after=0``
  at once, while the live ones stay; each has reached live when it receives an event emitted
  after it connected. Reported: when the last one got there (from the
  moment they all started connecting) and the live monitors' latency
  meanwhile. A monitor that is closed (1013: too far behind) resumes after
  its last event, as the browser client does; the closes are counted.

Every monitor checks that it got each event exactly once, in order (the
resuming ones from the raw text's ``seq`` fields, without decoding every
event: on these two cores 200 simulated tablets decoding 1.2 GB of JSON would
otherwise be what is measured, where a real tablet decodes only its own). The
service's peak resident memory is its own (``getrusage``). ``--tree PATH``
runs the service from another checkout (e.g. the main branch) with the same
clients, for a before/after comparison.

    python benchmarks/run.py monitors
    python benchmarks/bench_monitors.py [--quick] [--clients N] [--tree PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

SESSION = "bench"
TARGET_P99_MS = 100.0
TARGET_RESUME_S = 30.0
#: Processes the resuming monitors share (in a clinic each is its own tablet).
RESUME_PROCESSES = 2


# --- the service (``--serve``: run in its own process) ---------------------------------


def _payloads():
    """The simulated dyad's events as (data time, kind, role, data), forever, times increasing."""
    from dyadscope.sensors.simulate import SimulatedDyad
    from dyadscope.sensors.simulated_recording import simulated_events

    span = 600.0
    events = simulated_events(SimulatedDyad(3, start_time=0.0), 0.0, span)
    for lap in itertools.count():
        for e in events:
            yield lap * span + e.t, e.kind, e.role, e.data


async def _serve(tree_note: str) -> None:
    from dyadscope.service.config import Config
    from dyadscope.service.runner import Service
    from dyadscope.stream.types import Feature

    with tempfile.TemporaryDirectory() as data_dir:
        config = Config.from_env(
            {}, host="127.0.0.1", port=0, data_dir=Path(data_dir), token=secrets.token_urlsafe(18),
            max_connections=2048, max_connections_per_client=2048,
        )  # fmt: skip
        service = Service(config)
        await service.start()
        session = await service.manager.create(SESSION, lsl=False)
        payloads = _payloads()

        async def emit() -> None:
            t, kind, role, data = next(payloads)
            await session.log.emit(Feature(kind=kind, role=role, t=t, data=data))

        for _ in range(config.event_log_length):
            await emit()
        fill_rss = _rss_mib()
        print(json.dumps({"port": service.port, "token": config.token, "last_seq": session.log.last_seq}), flush=True)
        pacer = asyncio.create_task(_paced(payloads, session, Feature))
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # until told to stop
        pacer.cancel()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        memory = {"fill_rss_mib": fill_rss, "peak_rss_mib": usage.ru_maxrss / 1024, "tree": tree_note}
        print(json.dumps(memory), flush=True)
        await service.stop()


async def _paced(payloads, session, feature) -> None:
    """Emit the payloads at their own pace (data time as wall time)."""
    t0, start = None, time.monotonic()
    for t, kind, role, data in payloads:
        t0 = t if t0 is None else t0
        delay = start + (t - t0) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await session.log.emit(feature(kind=kind, role=role, t=t, data=data))


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


# --- the monitors (this process) ------------------------------------------------------


class Monitor:
    """One websocket client of the session, resuming after a close as the browser does."""

    def __init__(self, url: str, token: str, after: int, light: bool = False):
        self.url, self.headers, self.last = url, {"Authorization": f"Bearer {token}"}, after
        #: Check order and liveness from the raw text instead of decoding every event (resuming monitors:
        #: 200 simulated tablets decoding 1.2 GB of JSON on the service's two cores would measure the clients).
        self.light = light
        self.latencies: list[float] = []
        self.measure = False
        self.connected_at = 0.0
        self.live_at: float | None = None  # when it first got an event emitted after it connected
        self.errors: list[str] = []
        self.closes: dict[int | str, int] = {}  # close code (or failure to connect): times

    async def run(self) -> None:
        while True:
            self.connected_at = self.connected_at or time.time()
            try:
                async with connect(f"{self.url}?after={self.last}&batch=1", additional_headers=self.headers,
                                   ping_interval=None, max_size=None, open_timeout=120) as ws:  # fmt: skip
                    async for message in ws:
                        if self.light:
                            self._take_raw(time.time(), message)
                        else:
                            self._take(time.time(), json.loads(message))
            except ConnectionClosed as closed:  # resume, as the browser client does
                code = closed.rcvd.code if closed.rcvd else 1006
                self.closes[code] = self.closes.get(code, 0) + 1
                if code not in (1006, 1013):
                    self.errors.append(f"closed: {closed}")
                    return
            except (OSError, InvalidHandshake) as exc:  # refused (the machine is busy): again, after a pause
                self.closes[type(exc).__name__] = self.closes.get(type(exc).__name__, 0) + 1
                await asyncio.sleep(1.0)

    def _take(self, received: float, data) -> None:
        for event in data if isinstance(data, list) else [data]:  # the old service sends one per message
            if self.last and event["seq"] != self.last + 1 and len(self.errors) < 3:  # from 0: the oldest kept
                self.errors.append(f"seq {event['seq']} after {self.last}")
            self.last = event["seq"]
            if self.measure:
                self.latencies.append(received - event["t_emit"])
            if self.live_at is None and event["t_emit"] >= self.connected_at:
                self.live_at = received

    def _take_raw(self, received: float, message: str) -> None:
        """:meth:`_take` for compact JSON, by its top-level ``seq`` and the last event's ``t_emit``."""
        for seq in map(int, _SEQ.findall(message)):
            if self.last and seq != self.last + 1 and len(self.errors) < 3:
                self.errors.append(f"seq {seq} after {self.last}")
            self.last = seq
        last_emit = _T_EMIT.findall(message[message.rfind('"t_emit":') :])
        if self.live_at is None and last_emit and float(last_emit[0]) >= self.connected_at:
            self.live_at = received


#: Top-level fields of an event as the service encodes it (compact JSON; no data field has these names).
_SEQ = re.compile(r'"seq":(\d+)')
_T_EMIT = re.compile(r'"t_emit":([-+0-9.eE]+)')


def _closes(monitors: list[Monitor]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in monitors:
        for code, times in m.closes.items():
            out[str(code)] = out.get(str(code), 0) + times
    return out


def _take_latencies(monitors: list[Monitor]) -> np.ndarray:
    out = np.array([x for m in monitors for x in m.latencies]) * 1e3
    for m in monitors:
        m.latencies.clear()
    return out


async def _resume(url: str, token: str, clients: int, deadline: float) -> dict:
    """``clients`` monitors from ``after=0`` at once; when each reached live (wall clock)."""
    resuming = [Monitor(url, token, 0, light=True) for _ in range(clients)]
    tasks = [asyncio.create_task(m.run()) for m in resuming]
    while any(m.live_at is None for m in resuming) and time.time() < deadline:
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "reached": [m.live_at for m in resuming if m.live_at is not None],
        "closes": _closes(resuming),
        "errors": [e for m in resuming for e in m.errors][:5],
    }


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(url: str, token: str, last_seq: int, service_pid: int, args) -> dict:
    """The live monitors here; the resuming ones in a process of their own, while these measure."""
    live = [Monitor(url, token, last_seq) for _ in range(args.clients)]
    tasks = [asyncio.create_task(m.run()) for m in live]
    while any(m.live_at is None for m in live):  # all connected and receiving
        await asyncio.sleep(0.2)
    for m in live:
        m.measure = True
    cpu = [_cpu_s(service_pid)]
    await asyncio.sleep(args.live_s)
    live_ms = _take_latencies(live)
    cpu.append(_cpu_s(service_pid))
    started = time.time()
    shares = [args.clients // RESUME_PROCESSES + (i < args.clients % RESUME_PROCESSES) for i in range(RESUME_PROCESSES)]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--resume",
            url,
            token,
            str(n),
            str(started + args.resume_timeout_s),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        for n in shares
    ]
    parts = [json.loads((await p.communicate())[0] or '{"reached": [], "closes": {}, "errors": ["crashed"]}')
             for p in processes]  # fmt: skip
    result = {
        "reached": sorted(t - started for part in parts for t in part["reached"]),
        "closes": {k: sum(part["closes"].get(k, 0) for part in parts) for part in parts for k in part["closes"]},
        "errors": [e for part in parts for e in part["errors"]],
    }
    during_ms = _take_latencies(live)
    cpu.append(_cpu_s(service_pid))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    result["errors"] += [e for m in live for e in m.errors][:5]
    service_cpu = {"live_share": (cpu[1] - cpu[0]) / args.live_s, "resume_s": cpu[2] - cpu[1]}
    return {**result, "live_closes": _closes(live), "live_ms": live_ms, "during_ms": during_ms, **service_cpu}


# --- the report -----------------------------------------------------------------------


def _pct(ms: np.ndarray) -> str:
    if not len(ms):
        return "no events"
    return f"p50 {np.percentile(ms, 50):7.1f}  p99 {np.percentile(ms, 99):7.1f}  max {ms.max():7.1f} ms  ({len(ms)})"


def _report(args, result: dict, memory: dict) -> int:
    n, reached = args.clients, result["reached"]
    print(f"service: {memory['tree']}; {n} live + {n} resuming monitors on one session")
    print(f"live latency ({args.live_s:.0f} s)        {_pct(result['live_ms'])}")
    print(f"live latency during the resume {_pct(result['during_ms'])}")
    if len(reached) == n:
        print(f"resume from a full log: all {n} live after {reached[-1]:.1f} s (median {reached[n // 2]:.1f} s)")
    else:
        print(f"resume from a full log: {len(reached)} of {n} live within {args.resume_timeout_s:.0f} s")
    print(f"closes, resumed after (code: times): live {result['live_closes']}, resuming {result['closes']}")
    print(f"load average (this machine, all users) at the end: {os.getloadavg()[0]:.1f}")
    print(f"service CPU: {100 * result['live_share']:.1f} % of a core live, {result['resume_s']:.1f} s for the resume")
    print(f"service memory: {memory['fill_rss_mib']:.0f} MiB with the full log, peak {memory['peak_rss_mib']:.0f} MiB")
    for error in result["errors"][:5]:
        print(f"ERROR {error}")
    live_p99 = np.percentile(result["live_ms"], 99) if len(result["live_ms"]) else float("inf")
    met = live_p99 <= TARGET_P99_MS and len(reached) == n and reached[-1] <= TARGET_RESUME_S
    print(f"targets (p99 <= {TARGET_P99_MS:.0f} ms live, all resumed within {TARGET_RESUME_S:.0f} s): "
          f"{'met' if met else 'NOT met'}")  # fmt: skip
    return 1 if result["errors"] else 0


def _run(coro):
    """Run the clients' side on uvloop: less of the measured latency is the clients' own overhead."""
    import uvloop

    return uvloop.run(coro)


def _service_env(tree: Path | None) -> tuple[dict[str, str], str]:
    if tree is None:
        return dict(os.environ), "this tree"
    root = Path(tempfile.mkdtemp(prefix="bench-tree-"))
    (root / "dyadscope").symlink_to(tree.resolve())
    return {**os.environ, "PYTHONPATH": str(root)}, str(tree)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 + 20 monitors, 5 s live")
    parser.add_argument("--clients", type=int, default=200, help="live monitors, and as many resuming (200)")
    parser.add_argument("--live-s", type=float, default=20.0, help="live measurement, s (20)")
    parser.add_argument("--resume-timeout-s", type=float, default=60.0, help="give up on the resume after, s (60)")
    parser.add_argument("--tree", type=Path, help="run the service from this checkout instead")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--resume", nargs=4, help=argparse.SUPPRESS)  # URL TOKEN CLIENTS DEADLINE
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(os.environ.get("BENCH_TREE", "this tree")))
        return 0
    if args.resume:
        url, token, clients, deadline = args.resume
        print(json.dumps(_run(_resume(url, token, int(clients), float(deadline)))))
        return 0
    if args.quick:
        args.clients, args.live_s = 20, 5.0
    env, note = _service_env(args.tree)
    service = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env={**env, "BENCH_TREE": note}, text=True,
    )  # fmt: skip
    try:
        ready = json.loads(service.stdout.readline())
        url = f"ws://127.0.0.1:{ready['port']}/ws/sessions/{SESSION}"
        result = _run(_drive(url, ready["token"], ready["last_seq"], service.pid, args))
        service.stdin.write("stop\n")
        service.stdin.flush()
        memory = json.loads(service.stdout.readline())
    finally:
        service.stdin.close()
        service.wait(30)
    return _report(args, result, memory)


if __name__ == "__main__":
    sys.exit(main())
