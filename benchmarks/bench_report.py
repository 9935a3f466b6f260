"""The report figure of a long session: where its time goes, and how long its progress bar stands still.

Two recordings of one length (60 min; ``--quick`` 5 min): a simulated
session (event log and derived streams, as a live session writes) and a raw
recording of the simulated dyad (raw streams and markers only, as
``dyadscope simulate --out`` and ``dyadscope record`` write), which the
report first runs through the pipeline. For each: the load (before any
exporter; pyxdf gives no progress), then the report's own time, the time
before its first bar appears and the longest stretch in which no bar moves.

    .venv/bin/python benchmarks/bench_report.py [--quick]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from dyadscope.offline.export.report import export_report
from dyadscope.sensors.simulate_file import write_simulated_recording
from dyadscope.sensors.simulated_recording import record_simulated_session
from dyadscope.xdf.reader import load_recording
from dyadscope.xdf.recorder import Recorder


class Moves:
    """A ``progress`` wrapper that notes the time of every bar move (and of each bar's start)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.bars: list[tuple[str, int]] = []

    def __call__(self, items, desc=""):
        self.bars.append((desc, len(items)))
        self.times.append(time.perf_counter())
        for item in items:
            yield item
            self.times.append(time.perf_counter())


def bench(name: str, path: Path, out: Path) -> None:
    """Load ``path`` and draw its report, printing the load, the report and the bar's longest standstill."""
    start = time.perf_counter()
    recording = load_recording(path)
    loaded = time.perf_counter()
    moves = Moves()
    export_report(recording, out, moves)
    done = time.perf_counter()
    marks = [loaded, *moves.times, done]
    still = max(b - a for a, b in zip(marks, marks[1:]))
    bars = ", ".join(f"{desc!r} {total}" for desc, total in moves.bars)
    print(
        f"{name:10s} {path.stat().st_size / 2**20:6.0f} {loaded - start:7.1f} {done - loaded:9.1f} "
        f"{moves.times[0] - loaded:10.1f} {still:9.1f}   {bars}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 min recordings")
    seconds = 300.0 if parser.parse_args().quick else 3600.0
    logging.getLogger("pyxdf").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        folder = Path(tmp)
        with Recorder(folder / "session.xdf", {"subject": "P01", "task": "therapy"}) as recorder:
            record_simulated_session(recorder, seconds)
        write_simulated_recording(folder / "raw.xdf", seconds)
        print(f"report of a {seconds / 60:g} min recording (s; 'first bar': from the load's end to the first bar)")
        print(f"{'recording':10s} {'MiB':>6s} {'load':>7s} {'report':>9s} {'first bar':>10s} {'standstill':>9s}   bars")
        for name in ("session", "raw"):
            bench(name, folder / f"{name}.xdf", folder / f"{name}-report")


if __name__ == "__main__":
    main()
