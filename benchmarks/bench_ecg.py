"""Cost per 1 s hop of live R-peak detection: our incremental processor vs NeuroKit2 re-run.

The data is the simulated dyad's patient ECG (500 Hz, planted R-peaks). Every
second of data, ours processes the new second (as one 1 s chunk, and as ten
0.1 s chunks like a live LSL inlet delivers them); the reference re-runs
NeuroKit2's ``ecg_clean`` + ``ecg_peaks`` on the trailing 60 s window, which
is what a batch pipeline must do to stay live. Both are timed side by side on
the same hops (those with a full window), so the ratio holds on a busy machine.

    /work/venv/bin/python benchmarks/bench_ecg.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import neurokit2 as nk
import numpy as np

from dyadscope.sensors.simulate import SimulatedDyad
from dyadscope.stream.processors.physio.ecg import HeartRateProcessor
from dyadscope.stream.types import Chunk

WINDOW_S = 60


def timed(work) -> float:
    """Wall-clock seconds of one call of ``work``."""
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="90 s of ECG (30 timed hops) instead of 600 s")
    duration = 90 if parser.parse_args().quick else 600

    block = SimulatedDyad(seed=1).advance(float(duration))
    ecg_chunk = next(c for c in block.chunks if c.info.modality == "ECG" and c.info.role == "patient")
    info, rate = ecg_chunk.info, int(ecg_chunk.info.nominal_rate)
    ecg, times = ecg_chunk.values[:, 0], ecg_chunk.timestamps
    whole_second, tenth = HeartRateProcessor(info), HeartRateProcessor(info)
    found: list[float] = []

    def ours_one(hop: slice) -> None:
        found.extend(f.t for f in whole_second.process(Chunk(info, times[hop], ecg[hop, None])) if f.kind == "rpeak")

    def ours_ten(hop: slice) -> None:
        for start in range(hop.start, hop.stop, rate // 10):
            piece = slice(start, start + rate // 10)
            tenth.process(Chunk(info, times[piece], ecg[piece, None]))

    def neurokit(end: int) -> None:
        window = ecg[end - WINDOW_S * rate : end]
        nk.ecg_peaks(nk.ecg_clean(window, sampling_rate=rate), sampling_rate=rate)

    costs: dict[str, list[float]] = {"one": [], "ten": [], "nk": []}
    for second in range(duration):
        hop = slice(second * rate, (second + 1) * rate)
        one, ten = timed(lambda hop=hop: ours_one(hop)), timed(lambda hop=hop: ours_ten(hop))
        if second + 1 >= WINDOW_S:
            costs["one"].append(one)
            costs["ten"].append(ten)
            costs["nk"].append(timed(lambda hop=hop: neurokit(hop.stop)))

    reference = float(np.mean(costs["nk"]))
    rows = [
        ("ours, one 1 s chunk per hop", costs["one"]),
        ("ours, ten 0.1 s chunks per hop", costs["ten"]),
        (f"NeuroKit2 clean+peaks on {WINDOW_S} s", costs["nk"]),
    ]
    print(f"ECG R-peaks, simulated patient ECG {rate} Hz, {duration} s; {len(costs['nk'])} hops of 1 s timed")
    print(f"{'method':34s} {'mean ms':>9s} {'p95 ms':>9s} {'NK / ours':>10s} {'streams per core':>17s}")
    for name, samples in rows:
        mean, p95 = float(np.mean(samples)), float(np.percentile(samples, 95))
        print(f"{name:34s} {mean * 1e3:9.3f} {p95 * 1e3:9.3f} {reference / mean:10.1f} {1.0 / mean:17.0f}")

    planted = block.r_peaks["patient"]
    planted = planted[planted < times[-1] - 0.6]  # the last beats are not reported yet
    distance = np.abs(np.asarray(found)[:, None] - planted[None, :])
    hits = int((distance.min(axis=0) <= 0.150).sum())
    extra = int((distance.min(axis=1) > 0.150).sum())
    print(f"ours found {hits} of {planted.shape[0]} planted R-peaks (150 ms), {extra} extra")
    print("streams per core = 1 s of data / mean cost per hop (one core, ECG alone)")


if __name__ == "__main__":
    main()
