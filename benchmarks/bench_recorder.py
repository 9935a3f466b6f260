"""The recorder under a session's load, and export of a long session.

Recorder: a realistic session load — 2 people x ECG 500 Hz, RSP 50 Hz,
EDA 32 Hz (the simulated dyad), 2 x voice features (3 channels at 100 Hz)
and the event log (~27 events/s) — in 0.1 s chunks, as LSL delivers them.

* throughput: everything written as fast as the recorder takes it (flushes
  and fsyncs included), in samples per second;
* CPU share: the same load paced in real time, process CPU per wall second;
* references, same data, same run: the floor (each block's raw arrays
  written with ``tobytes``, fsync'd each second) and a naive XDF writer
  (``struct.pack`` per sample, as a straightforward Python writer does).

Export: a session (60 min; ``--quick`` 5 min) recorded through the recorder,
then loaded and exported to each format; the reference is ``pyxdf.load_xdf``
alone on the same file, so the ratio says what each export costs on top of
just reading the file.

    /work/venv/bin/python benchmarks/bench_recorder.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import pyxdf

from dyadscope.offline.export.bids import export_bids
from dyadscope.offline.export.report import export_report
from dyadscope.offline.export.tables import export_tables
from dyadscope.sensors.simulate import SimulatedDyad
from dyadscope.sensors.simulated_recording import record_simulated_session, simulated_events
from dyadscope.stream.types import Chunk, Event, StreamInfo
from dyadscope.xdf.reader import load_recording
from dyadscope.xdf.recorder import Recorder

STEP = 0.1  # s of data per block, as LSL chunks arrive
VOICE = [
    StreamInfo(
        name=f"voice features {role}",
        modality="VoiceFeatures",
        channel_count=3,
        nominal_rate=100.0,
        channel_format="float32",
        source_id=f"voice-{role}",
        role=role,
        channel_labels=("pitch", "energy", "voicing"),
    )  # fmt: skip
    for role in ("patient", "therapist")
]


def session_blocks(duration: float) -> list[tuple[list[Chunk], list[Event]]]:
    """The load, block by block: raw chunks, voice features and events of each 0.1 s."""
    dyad = SimulatedDyad(3)
    rng = np.random.default_rng(3)
    blocks, seq, t = [], 0, 0.0
    while t < duration - 1e-9:
        until = t + STEP
        chunks = dyad.read_until(until)
        stamps = t + np.arange(10) / 100.0
        chunks += [Chunk(info, stamps, rng.standard_normal((10, 3)).astype(np.float32)) for info in VOICE]
        events = simulated_events(dyad, t, until, seq)
        seq += len(events)
        blocks.append((chunks, events))
        t = until
    return blocks


def count_samples(blocks) -> int:
    """Samples in the load (every event counts as one)."""
    return sum(len(c) for chunks, events in blocks for c in chunks) + sum(len(e) for _, e in blocks)


def record(path: Path, blocks, pace: bool = False) -> None:
    """Our recorder; with ``pace``, each block is written at its own time (real time)."""
    start = time.monotonic()
    with Recorder(path) as rec:
        for i, (chunks, events) in enumerate(blocks):
            if pace:
                time.sleep(max(0.0, start + i * STEP - time.monotonic()))
            for chunk in chunks:
                rec.write(chunk)
            rec.write_events(events)


class _SecondlyFsync:
    """A file written as the references need: plain writes, fsync'd about every second."""

    def __init__(self, path: Path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.last = time.monotonic()

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)
        if time.monotonic() - self.last >= 1.0:
            os.fsync(self.fd)
            self.last = time.monotonic()

    def close(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)


def raw_floor(path: Path, blocks) -> None:
    """Reference: the raw arrays only, no format at all."""
    out = _SecondlyFsync(path)
    for chunks, events in blocks:
        for chunk in chunks:
            out.write(chunk.timestamps.tobytes() + chunk.values.tobytes())
        out.write("".join(json.dumps(e.to_dict()) for e in events).encode())
    out.close()


def naive_xdf(path: Path, blocks) -> None:
    """Reference: XDF samples packed one sample at a time with struct (numeric streams as float32)."""
    out = _SecondlyFsync(path)
    ids: dict[str, int] = {}
    for chunks, events in blocks:
        for chunk in chunks:
            sid = ids.setdefault(chunk.info.key, len(ids) + 1)
            fmt = "<Bd" + "f" * chunk.values.shape[1]
            body = b"".join(
                struct.pack(fmt, 8, t, *row) for t, row in zip(chunk.timestamps.tolist(), chunk.values.tolist())
            )
            content = struct.pack("<IBI", sid, 4, len(chunk)) + body
            out.write(struct.pack("<BIH", 4, len(content) + 2, 3) + content)
        for event in events:
            text = json.dumps(event.to_dict()).encode()
            content = struct.pack("<IBBd", 0, 1, 1, event.t) + struct.pack("<BI", 4, len(text)) + text
            out.write(struct.pack("<BIH", 4, len(content) + 2, 3) + content)
    out.close()


def measure(work) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process) of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_recorder(folder: Path, duration: float, paced: float) -> None:
    """Throughput against the references, then CPU share paced in real time."""
    blocks = session_blocks(duration)
    samples = count_samples(blocks)
    print(f"recorder: {duration:g} s of session, {samples} samples ({samples / duration:.0f} per s), 0.1 s blocks")
    for i, warm_up in enumerate((record, naive_xdf, raw_floor)):  # first calls pay for imports and caches
        warm_up(folder / f"warm-{i}", blocks[:20])
    rows = [
        ("ours (Recorder, XDF)", measure(lambda: record(folder / "ours.xdf", blocks))),
        ("naive XDF (struct per sample)", measure(lambda: naive_xdf(folder / "naive.xdf", blocks))),
        ("floor (raw arrays)", measure(lambda: raw_floor(folder / "raw.bin", blocks))),
    ]
    ours_wall = rows[0][1][0]
    print(f"{'writer':32s} {'wall s':>8s} {'CPU s':>8s} {'samples/s':>12s} {'ours vs this':>13s}")
    for name, (wall, cpu) in rows:
        print(f"{name:32s} {wall:8.3f} {cpu:8.3f} {samples / wall:12.0f} {ours_wall / wall:13.2f}")
    paced_blocks = blocks[: int(round(paced / STEP))]
    wall, cpu = measure(lambda: record(folder / "paced.xdf", paced_blocks, pace=True))
    print(f"CPU share in real time ({paced:g} s paced, fsync every second): {100 * cpu / wall:.2f} % of one core")


def bench_export(folder: Path, minutes: float) -> None:
    """Load and export a long simulated session, against pyxdf.load_xdf alone."""
    path = folder / "session.xdf"
    wall, _ = measure(lambda: record_simulated_session(Recorder(path), minutes * 60.0) and None)
    size = path.stat().st_size / 2**20
    print(f"\nexport: {minutes:g} min simulated session, {size:.0f} MiB XDF (synthesised in {wall:.1f} s)")
    reference, _ = measure(lambda: pyxdf.load_xdf(str(path)))
    holder = {}
    load, _ = measure(lambda: holder.setdefault("rec", load_recording(path)))
    recording = holder["rec"]
    rows = [
        ("pyxdf.load_xdf (reference)", reference, 0.0),
        ("load_recording (ours)", load, 0.0),
        ("bids", load, measure(lambda: export_bids(recording, folder / "bids"))[0]),
        ("csv", load, measure(lambda: export_tables(recording, folder / "csv", "csv"))[0]),
        ("parquet", load, measure(lambda: export_tables(recording, folder / "parquet", "parquet"))[0]),
        ("report (PNG + PDF)", load, measure(lambda: export_report(recording, folder / "report"))[0]),
    ]
    print(f"{'step':32s} {'load s':>8s} {'export s':>9s} {'total s':>8s} {'vs pyxdf load':>14s}")
    for name, loading, exporting in rows:
        total = loading + exporting
        print(f"{name:32s} {loading:8.2f} {exporting:9.2f} {total:8.2f} {total / reference:14.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s recorder load, 3 s paced, 5 min export")
    quick = parser.parse_args().quick
    logging.getLogger("pyxdf").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-recorder-") as tmp:
        bench_recorder(Path(tmp), duration=30.0 if quick else 300.0, paced=3.0 if quick else 20.0)
        bench_export(Path(tmp), minutes=5.0 if quick else 60.0)


if __name__ == "__main__":
    main()
