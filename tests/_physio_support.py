"""Shared helpers of the physiology tests: real recordings, chunked feeding, NeuroKit2 references."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.processors.registry import physiology_processors
from dyadscope.stream.types import Chunk, Feature, StreamInfo

RATE = 100.0
T0 = 1000.0  # session-clock time of the first sample


def stream(modality: str, rate: float = RATE, role: str = "patient") -> StreamInfo:
    """A one-channel stream of ``modality`` belonging to ``role``."""
    return StreamInfo(f"{role}-{modality}", modality, 1, rate, role=role)


@functools.cache
def recording(path: Path) -> pd.DataFrame:
    """A physio CSV (read once per test session)."""
    return pd.read_csv(path)


def chunks(info: StreamInfo, x: np.ndarray, sizes: int | Sequence[int], t0: float = T0) -> list[Chunk]:
    """``x`` cut into chunks of ``sizes`` samples (one size, or a cycle of sizes)."""
    sizes = [sizes] if isinstance(sizes, int) else list(sizes)
    t = t0 + np.arange(x.shape[0]) / info.nominal_rate
    out, start, k = [], 0, 0
    while start < x.shape[0]:
        stop = start + sizes[k % len(sizes)]
        out.append(Chunk(info, t[start:stop], np.asarray(x[start:stop], dtype=np.float64).reshape(-1, 1)))
        start, k = stop, k + 1
    return out


def interleave(*streams: Iterable[Chunk]) -> list[Chunk]:
    """Chunks of several streams in the order a live session sees them: by their last timestamp."""
    return sorted((c for s in streams for c in s), key=lambda c: float(c.timestamps[-1]))


def run(processor, chunk_list: Iterable[Chunk]) -> list[Feature]:
    """Every feature a chunk processor returns over the chunks."""
    return [f for c in chunk_list for f in processor.process(c)]


def run_pipeline(feature_processors, chunk_list: Iterable[Chunk]) -> list[Feature]:
    """Every feature of a physiology pipeline with ``feature_processors`` over the chunks."""
    pipeline = Pipeline([physiology_processors], feature_processors)
    return [f for c in chunk_list for f in pipeline.process(c)]


def of(features: Iterable[Feature], kind: str) -> list[Feature]:
    return [f for f in features if f.kind == kind]


@functools.cache
def neurokit(path: Path) -> Mapping[str, object]:
    """NeuroKit2's reference results on a recording (computed once per test session)."""
    import neurokit2 as nk

    data = recording(path)
    out: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ecg, ecg_info = nk.ecg_process(data["ECG"], sampling_rate=int(RATE))
        rsp, rsp_info = nk.rsp_process(data["RSP"], sampling_rate=int(RATE))
        out["rpeaks"] = np.asarray(ecg_info["ECG_R_Peaks"])
        out["rsp"] = rsp
        out["rsp_peaks"] = np.asarray(rsp_info["RSP_Peaks"])
        out["rsp_rate"] = float(np.mean(rsp["RSP_Rate"]))
        out["rsa"] = nk.hrv_rsa(ecg, rsp, ecg_info, sampling_rate=int(RATE))
        if "EDA" in data:
            eda, eda_info = nk.eda_process(data["EDA"], sampling_rate=int(RATE))
            out["eda"] = eda
            out["scr_peaks"] = np.asarray(eda_info["SCR_Peaks"])
    return out


def rpeak_features(peaks: np.ndarray, role: str = "patient", t0: float = T0) -> list[Feature]:
    """R-peak sample indices as the ``rpeak`` features an ECG processor emits."""
    times = t0 + np.asarray(peaks) / RATE
    return [
        Feature("rpeak", role, float(t), {"ibi_ms": None if i == 0 else float((t - times[i - 1]) * 1000)})
        for i, t in enumerate(times)
    ]


def planted_beat_errors(beats: np.ndarray, seed: int, each: int = 5, spacing: int = 8) -> np.ndarray:
    """``beats`` (s) with ``each`` missed, ``each`` extra and ``each`` misplaced beats planted.

    The errors of an R-peak detector: a beat deleted; a false beat added
    30-70 % into an interval; a beat moved 50-100 ms either way. They sit at
    least ``spacing`` beats apart and clear of the first and last 12 beats.
    """
    beats = np.asarray(beats, dtype=np.float64)
    rng = np.random.default_rng(seed)
    slots = rng.permutation(np.arange(12, beats.shape[0] - 12, spacing))[: 3 * each]
    missed, extra, moved = slots[:each], slots[each : 2 * each], slots[2 * each :]
    out = beats.copy()
    out[moved] += rng.choice([-1.0, 1.0], each) * rng.uniform(0.05, 0.10, each)
    added = beats[extra] + rng.uniform(0.3, 0.7, each) * (beats[extra + 1] - beats[extra])
    return np.sort(np.r_[np.delete(out, missed), added])
