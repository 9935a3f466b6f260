"""Coregulation: planted dampening and amplification are recovered, and pseudo-dyads stay at the stated rate.

``pytest tests/test_dyadic_coregulation.py -s`` prints the figures that the
README's accuracy table quotes.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from _sim_support import SIM_DURATION_S, SIM_SEEDS
from scipy import stats

from dyadscope.sensors.simulate import DyadSchedule
from dyadscope.service.cli import main
from dyadscope.stream import kinds
from dyadscope.stream.kinds import KINDS
from dyadscope.stream.processors.dyadic.coregulation import (
    COREGULATION_DEFAULTS,
    CoregulationConfig,
    CoregulationProcessor,
    RollingCoregulation,
)
from dyadscope.stream.types import Feature

PHYSIO = ("eda_tonic", "heart_rate")
PSEUDO_OFFSET_S = 300.0  # the therapist of another session, half a cycle later: no shared schedule either


def ar_dyad(beta_partner: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Heart rate at 1 Hz: the therapist wanders around 70 bpm on their own; the patient's change is

    Δp(t+1) = −0.2 (p(t) − 80) + β_partner (q(t) − 70) + noise.
    """
    rng = np.random.default_rng(seed)
    p, q = np.empty(n), np.empty(n)
    p[0], q[0] = 80.0, 70.0
    for t in range(n - 1):
        q[t + 1] = q[t] + 0.1 * (70.0 - q[t]) + rng.normal(0, 1.0)
        p[t + 1] = p[t] - 0.2 * (p[t] - 80.0) + beta_partner * (q[t] - 70.0) + rng.normal(0, 1.0)
    return p, q


def feed(p: np.ndarray, q: np.ndarray, config: CoregulationConfig) -> list[Feature]:
    processor = CoregulationProcessor({"heart_rate": config})
    assert processor.consumes == {"heart_rate"}
    out = []
    for k, (pv, qv) in enumerate(zip(p, q)):
        out += processor.consume(Feature("heart_rate", "patient", k + 0.2, {"bpm": pv, "quality": "good"}))
        out += processor.consume(Feature("heart_rate", "therapist", k + 0.5, {"bpm": qv, "quality": "good"}))
    return out


@pytest.mark.parametrize(("beta_partner", "pattern"), [(-0.3, "dampening"), (0.3, "amplification")])
def test_a_planted_coupling_is_found_with_its_sign(beta_partner, pattern):
    p, q = ar_dyad(beta_partner, n=1200, seed=3)
    config = CoregulationConfig(lag_s=1.0, baseline_tau_s=600.0)
    out = feed(p, q, config)
    patient = [f.data for f in out if f.role == "patient"]
    therapist = [f.data for f in out if f.role == "therapist"]
    assert min(f.t for f in out) >= 120 + 1 + 19 * 20  # nothing before the null's shifts fit
    assert len(patient) >= 45 and patient[0]["shifts"] >= 19 and patient[0]["alpha"] == 0.05
    assert all(set(f.data) == set(KINDS[kinds.COREGULATION].fields) for f in out)  # as the codebook says
    assert np.mean([d["pattern"] == pattern for d in patient]) >= 0.9
    assert np.median([d["beta_partner"] for d in patient]) == pytest.approx(beta_partner, abs=0.1)
    forward = np.mean([d["pattern"] == pattern for d in patient])
    reverse = np.mean([d["pattern"] != "neutral" for d in therapist])  # the therapist is not driven, but
    print(f"\nplanted {pattern}: found in {forward:.0%} of the patient's reports, reverse in {reverse:.0%}")
    assert reverse < forward  # a strongly driven partner leaks a weaker coupling back (documented)


def newey_west_t(x: np.ndarray, y: np.ndarray, lags: int) -> tuple[np.ndarray, float]:
    """OLS of y on x and the Newey–West t of the last coefficient, written out plainly."""
    beta = np.linalg.solve(x.T @ x, x.T @ y)
    residual = y - x @ beta
    bread = np.linalg.inv(x.T @ x)
    meat = np.zeros((3, 3))
    for lag in range(lags + 1):
        weight = 1.0 if lag == 0 else 2.0 * (1.0 - lag / (lags + 1))
        for i in range(lag, len(y)):
            term = np.outer(x[i] * residual[i], x[i - lag] * residual[i - lag])
            meat += weight * (term + term.T) / 2
    return beta, beta[2] / np.sqrt((bread @ meat @ bread)[2, 2])


def test_the_estimate_and_its_p_value_match_a_plain_refit_of_every_shift():
    rng = np.random.default_rng(5)
    own, partner = rng.normal(size=900).cumsum(), rng.normal(size=900).cumsum()
    own[850] = np.nan  # a missing sample drops the rows that use it
    config = CoregulationConfig(lag_s=2.0, window_s=150.0, baseline_tau_s=20.0, history_s=400.0, nw_lag_s=3.0)
    model = RollingCoregulation(config)
    model.extend(own[:321], partner[:321])
    model.extend(own[321:], partner[321:])
    distance = {}
    for name, series in (("own", own), ("partner", partner)):
        level, out = np.nan, np.empty(series.size)
        for i, y in enumerate(series):
            level = y if np.isnan(level) else (level if np.isnan(y) else level + (1 - np.exp(-1 / 20)) * (y - level))
            out[i] = y - level
        distance[name] = out
    rows = np.arange(900 - 2 - 150, 900 - 2)
    t_values = []
    for shift in range(0, 401, 20):  # the model keeps 150 + 2 + 400 samples
        x = np.column_stack([np.ones(rows.size), distance["own"][rows], distance["partner"][rows - shift]])
        y = own[rows + 2] - own[rows]
        keep = np.isfinite(x).all(axis=1) & np.isfinite(y)
        x[~keep], y[~keep] = 0.0, 0.0  # a missing row stays a gap in the Newey–West lags
        beta, t = newey_west_t(x, y, lags=3)
        t_values.append(t)
        if shift == 0:
            expected_beta, rows_used = beta, int(keep.sum())
    estimate = model.estimate()
    assert rows_used == 148 and estimate["n"] == 148 and estimate["shifts"] == len(t_values) - 1 == 20
    assert estimate["beta_self"] == pytest.approx(expected_beta[1], rel=1e-6)
    assert estimate["beta_partner"] == pytest.approx(expected_beta[2], rel=1e-6)
    assert estimate["t_stat"] == pytest.approx(t_values[0], rel=1e-6)
    null = np.array(t_values[1:])  # t_0 as one more draw from the shifted t's: a prediction interval
    z = (t_values[0] - null.mean()) / (null.std(ddof=1) * np.sqrt(1 + 1 / null.size))
    assert estimate["p_value"] == pytest.approx(2 * stats.t.sf(abs(z), df=null.size - 1), rel=1e-6)


def coregulation(features: list[Feature]) -> list[Feature]:
    processor = CoregulationProcessor({m: COREGULATION_DEFAULTS[m] for m in PHYSIO})
    return [out for feature in features for out in processor.consume(feature)]


def coupled_share(out: list[Feature], modality: str, role: str) -> tuple[float, int]:
    patterns = [f.data["pattern"] for f in out if f.data["modality"] == modality and f.role == role]
    return float(np.mean([p != "neutral" for p in patterns])), len(patterns)


def test_planted_dampening_and_amplification_are_recovered_on_the_simulated_dyad(simulated_physio):
    stretches = DyadSchedule().coregulation_stretches(SIM_DURATION_S)
    recovered, right, reports, heart_rate, reverse = [], 0, 0, [], []
    for features in simulated_physio.values():
        out = coregulation(features)
        patient = [f for f in out if f.role == "patient" and f.data["modality"] == "eda_tonic"]
        for start, end, kind in stretches:
            # A 120 s window is mostly inside the stretch from 60 s on.
            found = [f.data["pattern"] for f in patient if start + 60 <= f.t <= end]
            if not found:
                continue  # none: a stretch ends before the first estimate (502 s)
            wrong = "amplification" if kind == "dampening" else "dampening"
            recovered.append(found.count(kind) > 0 and found.count(wrong) == 0)
            right, reports = right + found.count(kind), reports + len(found)
        heart_rate += [coupled_share(out, "heart_rate", role)[0] for role in ("patient", "therapist")]
        reverse.append(coupled_share(out, "eda_tonic", "therapist")[0])
    print(
        f"\ncoregulation, simulated dyad (seeds {SIM_SEEDS}, {SIM_DURATION_S:.0f} s): {sum(recovered)}/"
        f"{len(recovered)} planted stretches recovered with their sign (none with the opposite one), "
        f"{right / reports:.0%} of their reports; heart rate (never coupled) coupled in "
        f"{np.mean(heart_rate):.1%} of reports (max {max(heart_rate):.1%}); the therapist's tonic EDA (never "
        f"driven) coupled in {np.mean(reverse):.1%} of reports (max {max(reverse):.1%})"
    )
    assert len(recovered) == 4 * len(SIM_SEEDS) and all(recovered)
    assert np.mean(heart_rate) <= 0.05


def test_analyze_of_a_simulated_recording_finds_the_planted_coregulation(tmp_path):
    """The researcher's path: ``dyadscope simulate --out`` then ``dyadscope analyze``, tables read back."""
    recording, tables = tmp_path / "dyad.xdf", tmp_path / "out"
    assert main(["simulate", "--out", str(recording), "--duration", "1380", "--seed", "1", "--no-progress"]) == 0
    assert main(["analyze", str(recording), "--out", str(tables), "--no-progress"]) == 0
    table = pd.read_csv(tables / "coregulation.csv")
    assert {"beta_partner", "t_stat", "p_value", "shifts", "alpha"} <= set(table.columns)
    assert set(table["modality"]) == set(PHYSIO) and table["t"].min() >= 502
    patient = table[(table["role"] == "patient") & (table["modality"] == "eda_tonic")]
    found = 0
    for start, end, kind in DyadSchedule().coregulation_stretches(1380.0):
        inside = patient[(patient["t"] >= start + 60) & (patient["t"] <= end)]["pattern"]
        if len(inside):
            wrong = "amplification" if kind == "dampening" else "dampening"
            assert (inside == kind).any() and not (inside == wrong).any(), (start, kind)
            found += 1
    assert found == 4


def test_pseudo_dyads_report_coupling_at_the_stated_rate(simulated_physio):
    rates = []
    for a, b in itertools.permutations(SIM_SEEDS, 2):
        therapist = [
            replace(f, t=f.t - PSEUDO_OFFSET_S)
            for f in simulated_physio[b]
            if f.role == "therapist" and f.t >= PSEUDO_OFFSET_S
        ]
        patient = [f for f in simulated_physio[a] if f.role == "patient"]
        out = coregulation(sorted(patient + therapist, key=lambda f: f.t))
        rates += [coupled_share(out, m, role) for m in PHYSIO for role in ("patient", "therapist")]
    share, reports = np.array([r[0] for r in rates]), np.array([r[1] for r in rates])
    pooled, se = np.average(share, weights=reports), share.std(ddof=1) / np.sqrt(share.size)
    print(
        f"\ncoregulation, simulated pseudo-dyads (6, tonic EDA and heart rate, both roles): coupled in "
        f"{pooled:.1%} of {reports.sum()} reports (SE {se:.1%} over the {share.size} series, "
        f"per series {share.min():.1%}–{share.max():.1%}); stated rate 5 %"
    )
    assert reports.min() >= 30
    # Reports 10 s apart share most of their 120 s window, so the precision is that of the series, not
    # of the reports: the rate must not be above 5 % by more than two standard errors.
    assert pooled <= 0.05 + 2 * se and pooled <= 0.10
