"""Skin conductance concordance (Marci et al.): slopes over 5 s, correlated over 15 s, ln(Σr⁺/|Σr⁻|)."""

from __future__ import annotations

import numpy as np
import pytest

from dyadscope.stream.processors.dyadic.concordance import ConcordanceConfig, ConcordanceProcessor, slope_filter
from dyadscope.stream.types import Feature

RATE = 4.0


def test_slope_filter_is_the_least_squares_slope():
    rng = np.random.default_rng(0)
    x = rng.normal(size=20)
    b = slope_filter(20, RATE)
    # lfilter's output at the newest sample is Σ b[i] x[n - i].
    assert b @ x[::-1] == pytest.approx(np.polyfit(np.arange(20) / RATE, x, 1)[0])


def skin_conductance(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 5.0 + np.convolve(rng.normal(size=n), np.ones(8) / 8, mode="same").cumsum() * 0.05


def run(patient: np.ndarray, therapist: np.ndarray) -> list[Feature]:
    processor = ConcordanceProcessor(ConcordanceConfig(horizon_s=120.0))
    out = []
    for k in range(patient.size):
        t = k / RATE
        out += processor.consume(Feature("eda", "patient", t, {"tonic_us": patient[k] - 0.1, "phasic_us": 0.1}))
        out += processor.consume(Feature("eda", "therapist", t, {"tonic_us": therapist[k], "phasic_us": 0.0}))
    return out


def reference_r(patient: np.ndarray, therapist: np.ndarray, end: int) -> float:
    """Slopes by polyfit over the 20 samples up to each point; Pearson over the 60 slopes up to ``end``."""

    def slopes(s):
        return np.array([np.polyfit(np.arange(20) / RATE, s[i - 19 : i + 1], 1)[0] for i in range(end - 59, end + 1)])

    return float(np.corrcoef(slopes(patient), slopes(therapist))[0, 1])


def test_concordant_discordant_and_numpy_reference():
    n = int(300 * RATE)
    patient = skin_conductance(1, n)
    rng = np.random.default_rng(2)
    follows = patient + np.convolve(rng.normal(size=n), np.ones(8) / 8, mode="same") * 0.4
    mirrors = 10.0 - patient + np.convolve(rng.normal(size=n), np.ones(8) / 8, mode="same") * 0.4

    concordant = [f for f in run(patient, follows) if f.kind == "concordance"]
    assert len(concordant) >= 140  # every 2 s
    # Over a stretch with no negative r at all the index is infinite, reported as None.
    last = concordant[-1].data
    assert last["ci_session"] > 1.0 and (last["ci"] is None or last["ci"] > 1.0)
    discordant = [f.data for f in run(patient, mirrors) if f.kind == "concordance"][-1]
    assert discordant["ci_session"] < -1.0 and (discordant["ci"] is None or discordant["ci"] < -1.0)

    # The reported r is the 15 s correlation of the 5 s slopes ending at the report time.
    for feature in concordant[10::25]:
        end = round(feature.t * RATE)
        assert feature.data["r"] == pytest.approx(reference_r(patient, follows, end), abs=1e-6)


def test_unrelated_signals_have_no_concordance_and_gaps_blank_the_slopes():
    n = int(300 * RATE)
    patient, therapist = skin_conductance(3, n), skin_conductance(4, n)
    therapist[400:404] = np.nan
    reports = [f.data for f in run(patient, therapist) if f.kind == "concordance"]
    assert abs(reports[-1]["ci_session"]) < 1.0
    # 1 s of missing data: no r from when it enters the slope window until it leaves the 15 s window.
    blanked = [r["r"] is None for r in reports]
    assert any(blanked) and not all(blanked)
