"""Cost of the dyadic measures: incremental synchrony per hop, and CPU share of one live dyad.

1. Per hop, the incremental windowed lagged cross-correlation (running sums
   updated with the samples that entered and left) against recomputing the
   whole window at every lag with vectorised numpy, on the real patient-
   therapist movement recordings (25 Hz) and on EDA-rate data, both in the
   same run. Two references: the textbook vectorised form (centre each lagged
   window, then dot products) and our own exact path (sums from scratch with
   one matrix product), which is the fairest numpy can do.
   The compiled kernels (numba) are made ready before any timing: their
   compile time (once per machine, on an empty cache) and cache load time
   (every later start) are measured apart, each in a fresh process.
2. All dyadic processors (synchrony with surrogates, state and flexibility
   for six modalities, coregulation, concordance, dissonance) on one dyad's
   feature streams: CPU seconds per second of session, as a share of a core.

    /work/venv/bin/python benchmarks/bench_dyadic.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.processors.dyadic._xcorr import LaggedCrossCorrelation
from dyadscope.stream.processors.dyadic.synchrony import dyadic_processors
from dyadscope.stream.types import Feature

DATA = Path(os.environ.get("DYADSCOPE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def movement_dyad() -> tuple[np.ndarray, np.ndarray]:
    """The real motion-energy recordings, one after another (25 Hz)."""
    parts = [np.loadtxt(path, skiprows=1) for path in sorted((DATA / "dyadic").glob("*.txt"))]
    data = np.concatenate(parts)
    return data[:, 0], data[:, 1]


def kernel_start_seconds() -> tuple[float, float]:
    """Seconds a fresh process takes to make the kernels ready: compiling (empty cache), then loading the cache."""
    code = (
        "import time, numba; began = time.perf_counter(); "
        "import dyadscope.stream.processors.dyadic._xcorr_kernels; print(time.perf_counter() - began)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        run = [sys.executable, "-c", code]
        compiled, loaded = (float(subprocess.run(run, env=env, capture_output=True, check=True).stdout) for _ in "12")
    return compiled, loaded


def textbook(x: np.ndarray, y: np.ndarray, a: int, window: int, max_lag: int, step: int) -> np.ndarray:
    """Vectorised numpy: centre every lagged window, then one product per lag."""
    xs = x[a : a + window] - x[a : a + window].mean()
    ys = sliding_window_view(y[a - max_lag : a + window + max_lag], window)[::step]
    ys = ys - ys.mean(axis=1, keepdims=True)
    return (ys @ xs) / np.sqrt((xs @ xs) * np.einsum("ij,ij->i", ys, ys))


def from_scratch(x: np.ndarray, y: np.ndarray, a: int, window: int, max_lag: int, step: int) -> np.ndarray:
    """Vectorised numpy, our exact path: the five sums from scratch, one ``np.correlate`` per lagged sum."""
    xs = x[a : a + window]
    span = y[a - max_lag : a + window + max_lag]
    ones = np.ones(window)
    sy = np.correlate(span, ones)[::step]
    syy = np.correlate(span * span, ones)[::step]
    sxy = np.correlate(span, xs)[::step]
    sx, sxx = xs.sum(), xs @ xs
    return (sxy - sx * sy / window) / np.sqrt((sxx - sx * sx / window) * (syy - sy * sy / window))


def per_hop_costs(
    x: np.ndarray, y: np.ndarray, window: int, max_lag: int, step: int, hop: int, repeats: int = 3
) -> dict[str, float]:
    """Seconds per hop, best of ``repeats`` runs over the same hops: incremental vs both recomputations."""
    starts = range(window + 2 * max_lag, x.size - hop, hop)

    def incremental() -> float:
        engine = LaggedCrossCorrelation(window, max_lag, step)
        engine.extend(x[: window + 2 * max_lag], y[: window + 2 * max_lag])
        engine.correlations()
        began = time.perf_counter()
        for s in starts:
            engine.extend(x[s : s + hop], y[s : s + hop])
            engine.correlations()
        return time.perf_counter() - began

    def recomputed(recompute: Callable[..., np.ndarray]) -> float:
        began = time.perf_counter()
        for s in starts:
            recompute(x, y, s + hop - window - max_lag, window, max_lag, step)
        return time.perf_counter() - began

    runs = {
        "incremental": incremental,
        "textbook": lambda: recomputed(textbook),
        "from_scratch": lambda: recomputed(from_scratch),
    }
    for run in runs.values():  # warm-up, untimed: caches, first calls
        run()
    return {name: min(run() for _ in range(repeats)) / len(starts) for name, run in runs.items()}


def dyad_features(duration: float, movement: tuple[np.ndarray, np.ndarray]) -> list[Feature]:
    """One dyad's feature streams in time order: every modality the dyadic processors read."""
    rng = np.random.default_rng(0)
    events: list[tuple[float, Feature]] = []

    def series(kind: str, rate: float, make: Callable[[float, int], dict]) -> None:
        for role_index, role in enumerate(("patient", "therapist")):
            for k in range(int(duration * rate)):
                t = k / rate + 0.01 * role_index
                events.append((t, Feature(kind, role, t, make(t, role_index))))

    series("eda", 4.0, lambda t, r: {"tonic_us": 5 + np.sin(t / 30 + r), "phasic_us": float(rng.normal(0, 0.05))})
    series("heart_rate", 1.0, lambda t, r: {"bpm": 70 + 5 * np.sin(t / 20 + r) + float(rng.normal())})
    series("rsa", 1.0, lambda t, r: {"p2t_ms": 60 + float(rng.normal(0, 5)), "spectral_ln": 6.0})
    series("face_affect", 10.0, lambda t, r: {"valence": float(np.tanh(rng.normal())), "arousal": 0.0})
    series("movement", 25.0, lambda t, r: {"energy": float(movement[r][int(t * 25) % movement[r].size])})
    t = 0.0
    while t < duration:  # alternating turns of inter-pausal units
        for role in ("patient", "therapist"):
            for _ in range(int(rng.integers(1, 4))):
                length = float(rng.uniform(0.5, 3.0))
                arousal, valence = (float(v) for v in rng.uniform(-1, 1, 2))
                data = {"start": t, "end": t + length, "duration_s": length, "arousal": arousal, "valence": valence}
                events.append((t + length, Feature("voice_segment", role, t + length, data)))
                t += length + float(rng.uniform(0.1, 0.8))
    events.sort(key=lambda item: item[0])
    return [feature for _, feature in events]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter stretch of data and session")
    quick = parser.parse_args().quick
    x, y = movement_dyad()
    if quick:
        x, y = x[:15000], y[:15000]

    compiled, loaded = kernel_start_seconds()
    print(f"0. numba kernels: compiled in {compiled:.2f} s (once per machine), loaded from cache in {loaded:.3f} s\n")
    print("1. per hop: incremental vs recomputing the window at every lag (vectorised numpy)")
    header = ("lags", "ours us", "textbook us", "scratch us", "x textbook", "x scratch")
    print(f"{'case':44s} " + " ".join(f"{h:>11s}" for h in header))
    cases = [
        ("movement 25 Hz, 30 s, ±5 s, 2 s hop (live)", x, y, 750, 125, 1, 50),
        ("movement 25 Hz, 30 s, ±5 s, 10 s hop (Boker)", x, y, 750, 125, 1, 250),
        ("movement 10 Hz grid, 30 s, ±5 s, 2 s hop", x[::2], y[::2], 300, 50, 1, 20),
        ("EDA 4 Hz, 45 s, ±4 s, 2 s hop", x[::6], y[::6], 180, 16, 1, 8),
    ]
    for name, xs, ys, window, max_lag, step, hop in cases:
        c = per_hop_costs(xs, ys, window, max_lag, step, hop)
        lags = 2 * max_lag // step + 1
        ours, textbook_s, scratch_s = c["incremental"], c["textbook"], c["from_scratch"]
        row = (ours * 1e6, textbook_s * 1e6, scratch_s * 1e6, textbook_s / ours, scratch_s / ours)
        print(f"{name:44s} {lags:11d} " + " ".join(f"{v:11.1f}" for v in row))

    duration = 120.0 if quick else 600.0
    features = dyad_features(duration, (x, y))
    pipeline = Pipeline([], dyadic_processors())
    began = time.process_time()
    outputs = pipeline.feed(features)
    cpu = time.process_time() - began
    emitted = len(outputs) - len(features)
    print(f"\n2. one dyad, all dyadic processors, {duration:g} s of session, {len(features)} input features")
    print(f"{'CPU s':>8s} {'CPU share of one core':>22s} {'features out':>13s}")
    print(f"{cpu:8.3f} {100 * cpu / duration:21.2f}% {emitted:13d}")


if __name__ == "__main__":
    main()
