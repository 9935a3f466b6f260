"""Physiology processors: incremental per-hop cost against re-running NeuroKit2, and one dyad's CPU.

1. Per 1 s hop on ``bio_eventrelated_100hz`` (ECG, RSP, EDA at 100 Hz): our
   respiration + RSA + EDA processors take the hop's new data (0.1 s chunks,
   the hop's R-peaks as features) against NeuroKit2 re-run on the trailing
   60 s window (``rsp_process`` + ``hrv_rsa`` + ``eda_process``, R-peaks given
   to both); then the same with R-peak detection included (our ECG processor
   against ``ecg_process``).
2. CPU per second of data of every physiology processor (ECG -> R-peaks and
   heart rate, respiration, EDA, signal quality of each stream, RSA, baseline,
   session summary) for one dyad with ECG 500 Hz + RSP 50 Hz + EDA 32 Hz per
   person (``bio_resting_8min_100hz`` resampled), so dyads per core = 1 / that.

Run: ``python benchmarks/bench_physio.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal as sps

from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.processors.physio.baseline import Baseline, BaselineConfig
from dyadscope.stream.processors.physio.ecg import HeartRateProcessor
from dyadscope.stream.processors.physio.eda import EDAProcessor
from dyadscope.stream.processors.physio.history import SessionSummary
from dyadscope.stream.processors.physio.respiration import RespirationProcessor
from dyadscope.stream.processors.physio.rsa import RSAProcessor
from dyadscope.stream.processors.registry import physiology_processors
from dyadscope.stream.types import Chunk, Feature, StreamInfo

RATE = 100
WINDOW_S = 60
CHUNK_S = 0.1


def shared_data() -> Path:
    env = os.environ.get("DYADSCOPE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def chunked(info: StreamInfo, x: np.ndarray, t0: float = 0.0) -> list[Chunk]:
    """``x`` in 0.1 s chunks on a clock starting at ``t0``."""
    step = max(1, int(round(CHUNK_S * info.nominal_rate)))
    t = t0 + np.arange(x.shape[0]) / info.nominal_rate
    return [Chunk(info, t[i : i + step], x[i : i + step, None]) for i in range(0, x.shape[0], step)]


def per_hop(data: pd.DataFrame, hops: int) -> list[tuple[str, float, float]]:
    """(what, our ms per hop, NeuroKit2 ms per hop) with and without R-peak detection."""
    import neurokit2 as nk

    infos = {m: StreamInfo(m, m, 1, float(RATE), role="patient") for m in ("ECG", "RSP", "EDA")}
    ecg_signals, ecg_info = nk.ecg_process(data["ECG"], sampling_rate=RATE)
    rpeaks = np.asarray(ecg_info["ECG_R_Peaks"])
    first = len(data) // RATE - hops  # hops over the last seconds, each with a full window behind it
    assert first >= WINDOW_S, "recording too short for the window"

    # ours: the hop's chunks (and, when given, its R-peaks) are cut before timing
    streams = {m: chunked(infos[m], data[m].to_numpy()) for m in infos}
    per_s = int(round(1 / CHUNK_S))
    beat_t = rpeaks / RATE
    given: dict[int, list[Feature]] = {}
    for i, t in enumerate(beat_t):
        feature = Feature(
            "rpeak", "patient", float(t), {"ibi_ms": None if i == 0 else float((t - beat_t[i - 1]) * 1000)}
        )
        given.setdefault(int(np.floor(t / CHUNK_S + 1e-9)), []).append(feature)

    def hop(second: int, with_ecg: bool) -> None:
        for k in range(second * per_s, (second + 1) * per_s):
            features = resp.process(streams["RSP"][k]) + eda.process(streams["EDA"][k])
            features += ecg.process(streams["ECG"][k]) if with_ecg else given.get(k, [])
            for f in features:
                if f.kind in rsa.consumes:
                    rsa.consume(f)

    out = []
    for with_ecg in (False, True):
        # warm the processors up to the first timed hop, then time the hops' new data only
        ecg = HeartRateProcessor(infos["ECG"])
        resp, eda, rsa = RespirationProcessor(infos["RSP"]), EDAProcessor(infos["EDA"]), RSAProcessor()
        for second in range(first):
            hop(second, with_ecg)
        start = time.process_time()
        for second in range(first, first + hops):
            hop(second, with_ecg)
        ours = (time.process_time() - start) / hops

        start = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for second in range(first, first + hops):
                window = slice((second + 1 - WINDOW_S) * RATE, (second + 1) * RATE)
                rsp_signals, _ = nk.rsp_process(data["RSP"].to_numpy()[window], sampling_rate=RATE)
                if with_ecg:
                    win_ecg, win_info = nk.ecg_process(data["ECG"].to_numpy()[window], sampling_rate=RATE)
                else:
                    win_ecg = ecg_signals.iloc[window].reset_index(drop=True)
                    inside = rpeaks[(rpeaks >= window.start) & (rpeaks < window.stop)] - window.start
                    win_info = {"ECG_R_Peaks": inside, "sampling_rate": RATE}
                nk.hrv_rsa(win_ecg, rsp_signals, win_info, sampling_rate=RATE)
                nk.eda_process(data["EDA"].to_numpy()[window], sampling_rate=RATE)
        reference = (time.process_time() - start) / hops
        label = "RSA + respiration + EDA, R-peaks given" if not with_ecg else "... with R-peak detection (ECG)"
        out.append((label, ours * 1000, reference * 1000))
    return out


class Timed:
    """A processor whose CPU time is added to ``totals`` under its class name."""

    def __init__(self, inner, totals: dict[str, float]):
        self.inner = inner
        self.totals = totals
        self.name = type(inner).__name__
        if hasattr(inner, "consumes"):
            self.consumes = inner.consumes

    def _timed(self, method, arg):
        start = time.process_time()
        out = method(arg)
        self.totals[self.name] = self.totals.get(self.name, 0.0) + time.process_time() - start
        return out

    def process(self, chunk: Chunk) -> list[Feature]:
        return self._timed(self.inner.process, chunk)

    def consume(self, feature: Feature) -> list[Feature]:
        return self._timed(self.inner.consume, feature)


def dyad_cpu(data: pd.DataFrame, seconds: int) -> tuple[float, dict[str, float]]:
    """CPU seconds per second of data for one dyad: in all, and by processor."""
    rates = {"ECG": 500, "RSP": 50, "EDA": 32}
    n = seconds * RATE
    resampled = {
        "ECG": sps.resample_poly(data["ECG"].to_numpy()[:n], 5, 1),
        "RSP": sps.resample_poly(data["RSP"].to_numpy()[:n], 1, 2),
        "EDA": sps.resample_poly(data["EDA"].to_numpy()[:n], 8, 25),
    }
    totals: dict[str, float] = {}

    def factory(info: StreamInfo):
        return tuple(Timed(p, totals) for p in physiology_processors(info))

    baseline = Baseline(BaselineConfig(duration_s=180.0))
    baseline.start(0.0)
    feature_processors = [RSAProcessor(), baseline, SessionSummary()]
    pipeline = Pipeline([factory], [Timed(p, totals) for p in feature_processors])
    all_chunks = []
    for role, shift in (("patient", 0), ("therapist", 37)):  # the therapist replays a later stretch
        for modality, rate in rates.items():
            info = StreamInfo(f"{role}-{modality}", modality, 1, float(rate), role=role)
            x = np.roll(resampled[modality], -shift * rate)
            all_chunks += chunked(info, x)
    all_chunks.sort(key=lambda c: float(c.timestamps[-1]))
    start = time.process_time()
    emitted = sum(len(pipeline.process(c)) for c in all_chunks)
    cpu = time.process_time() - start
    assert emitted > 0
    return cpu / seconds, {name: total / seconds for name, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer hops and a shorter dyad run")
    args = parser.parse_args()
    physio = shared_data() / "physio"
    hops = 10 if args.quick else 60
    rows = per_hop(pd.read_csv(physio / "bio_eventrelated_100hz.csv"), hops)
    print(f"Per 1 s hop, trailing window {WINDOW_S} s, {hops} hops on bio_eventrelated_100hz (CPU time)")
    print(f"{'what':42} {'ours ms/hop':>12} {'NeuroKit2 ms/hop':>17} {'ratio':>8}")
    for label, ours, reference in rows:
        print(f"{label:42} {ours:12.3f} {reference:17.1f} {reference / ours:7.0f}x")
    seconds = 120 if args.quick else 480
    per_second, by_processor = dyad_cpu(pd.read_csv(physio / "bio_resting_8min_100hz.csv"), seconds)
    print()
    print(f"One dyad, ECG 500 Hz + RSP 50 Hz + EDA 32 Hz per person, all physiology processors, {seconds} s of data")
    print(f"{'CPU ms per second of data (in all)':42} {per_second * 1000:12.2f}")
    for name, cost in sorted(by_processor.items(), key=lambda kv: -kv[1]):
        print(f"{'  ' + name:42} {cost * 1000:12.2f}")
    print(f"{'dyads one core sustains in real time':42} {1 / per_second:12.0f}")


if __name__ == "__main__":
    main()
