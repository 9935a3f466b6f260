"""Coregulation: planted dampening and amplification are recovered with the right sign."""

from __future__ import annotations

import numpy as np
import pytest

from dyadscope.stream.processors.dyadic.coregulation import (
    CoregulationConfig,
    CoregulationProcessor,
    RollingCoregulation,
)
from dyadscope.stream.types import Feature


def simulate(beta_self: float, beta_gap: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Heart rate at 1 Hz: the therapist wanders around 70 bpm on their own; the patient follows

    Δp(t+1) = β_self (p(t) − 80) + β_gap (q(t) − p(t)) + noise.
    """
    rng = np.random.default_rng(seed)
    p, q = np.empty(n), np.empty(n)
    p[0], q[0] = 80.0, 70.0
    for t in range(n - 1):
        q[t + 1] = q[t] + 0.2 * (70.0 - q[t]) + rng.normal(0, 1.0)
        p[t + 1] = p[t] + beta_self * (p[t] - 80.0) + beta_gap * (q[t] - p[t]) + rng.normal(0, 1.0)
    return p, q


def feed(p: np.ndarray, q: np.ndarray, config: CoregulationConfig) -> list[Feature]:
    processor = CoregulationProcessor({"heart_rate": config})
    assert processor.consumes == {"heart_rate"}
    out = []
    for k, (pv, qv) in enumerate(zip(p, q)):
        out += processor.consume(Feature("heart_rate", "patient", k + 0.2, {"bpm": pv, "quality": "good"}))
        out += processor.consume(Feature("heart_rate", "therapist", k + 0.5, {"bpm": qv, "quality": "good"}))
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_dampening(seed):
    p, q = simulate(beta_self=-0.3, beta_gap=0.2, n=400, seed=seed)
    out = feed(p, q, CoregulationConfig(lag_s=1.0, window_s=120.0, baseline_tau_s=600.0))
    patient = [f.data for f in out if f.role == "patient"]
    assert len(patient) >= 30
    last = patient[-1]
    assert last["modality"] == "heart_rate" and last["lag_s"] == 1.0
    assert last["pattern"] == "dampening"
    assert last["feedback"] == pytest.approx(-0.5, abs=0.2)
    assert last["beta_self"] < 0 < last["beta_gap"]
    assert np.mean([d["pattern"] == "dampening" for d in patient[len(patient) // 2 :]]) >= 0.9


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_amplification(seed):
    p, q = simulate(beta_self=0.04, beta_gap=-0.04, n=150, seed=seed)  # a rise is followed by a further rise
    out = feed(p, q, CoregulationConfig(lag_s=1.0, window_s=120.0, baseline_tau_s=600.0))
    last = [f.data for f in out if f.role == "patient"][-1]
    assert last["pattern"] == "amplification"
    assert last["feedback"] > 0


def test_rolling_sums_match_a_batch_least_squares_fit():
    rng = np.random.default_rng(5)
    own, partner = rng.normal(size=500).cumsum(), rng.normal(size=500).cumsum()
    own[420] = np.nan  # a missing sample drops the rows that use it
    model = RollingCoregulation(lag=2, window=150, baseline_alpha=0.05, min_rows=10)
    model.extend(own[:321], partner[:321])
    model.extend(own[321:], partner[321:])
    # Batch: the same rows built directly.
    baseline, b = np.empty(500), np.nan
    for i, y in enumerate(own):
        if not np.isnan(y):
            b = y if np.isnan(b) else b + 0.05 * (y - b)
        baseline[i] = b
    rows = []
    for i in range(2, 500):
        j = i - 2
        row = [1.0, own[j] - baseline[j], partner[j] - own[j], own[i] - own[j]]
        rows.append(row if np.isfinite(row).all() else [0.0] * 4)
    rows = np.array(rows[-150:])
    keep = rows[:, 0] == 1.0
    beta, *_ = np.linalg.lstsq(rows[keep, :3], rows[keep, 3], rcond=None)
    estimate = model.estimate()
    assert keep.sum() == 148 and estimate["n"] == 148
    assert estimate["beta_self"] == pytest.approx(beta[1], rel=1e-6, abs=1e-9)
    assert estimate["beta_gap"] == pytest.approx(beta[2], rel=1e-6, abs=1e-9)
