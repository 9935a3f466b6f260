"""Synchrony judged against its null: pseudo-dyads of real recordings, and the simulated dyad's planted truth.

Pseudo-dyads pair one session's patient with another session's therapist
(Ramseyer & Tschacher, 2010): nobody is coupled, so ``above_chance`` should
fire in about 5 % of windows, ``in_sync`` should be rare and so should flags.
The simulated dyad has planted EDA following (the therapist follows by 2.0 s in
120 s stretches) and no heart-rate or RSA coupling at all.

``pytest tests/test_dyadic_calibration.py -s`` prints the figures that the
README's accuracy table quotes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _sim_support import SIM_DURATION_S, SIM_SEEDS

from dyadscope.sensors.simulate import DyadSchedule
from dyadscope.stream import kinds
from dyadscope.stream.processors.dyadic.synchrony import SYNC_DEFAULTS, DyadicConfig, SynchronyProcessor
from dyadscope.stream.types import Feature

RMEA_RATE_HZ = 25.0
PHYSIO = ("eda", "heart_rate", "rsa")


def synchrony(features: list[Feature], modalities: tuple[str, ...]) -> list[Feature]:
    """The synchrony features of a stream of per-person features, by the default settings."""
    config = DyadicConfig(
        sync={m: SYNC_DEFAULTS[m] for m in modalities}, coregulation={}, concordance=None, dissonance=None
    )
    processor = SynchronyProcessor(config)
    return [out for feature in features for out in processor.consume(feature)]


def in_sync_spans(out: list[Feature], modality: str, end_s: float) -> list[tuple[float, float]]:
    spans, since = [], None
    for f in out:
        if f.kind == kinds.SYNC_STATE and f.data["modality"] == modality:
            if f.data["state"] == "in_sync":
                since = f.data["since"]
            elif since is not None:
                spans.append((since, f.data["since"]))
                since = None
    return spans + ([(since, end_s)] if since is not None else [])


def covered(spans: list[tuple[float, float]], start: float, end: float) -> float:
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)


def measures(out: list[Feature], modality: str, duration_s: float) -> dict[str, float]:
    tested = [f.data for f in out if f.kind == kinds.SYNC and f.data["modality"] == modality]
    tested = [d for d in tested if d["above_chance"] is not None]
    spans = in_sync_spans(out, modality, duration_s)
    index = [f.data for f in out if f.kind == kinds.SYNC_INDEX and f.data["modality"] == modality][-1]
    return {
        "above": float(np.mean([d["above_chance"] for d in tested])),
        "windows": len(tested),
        "in_sync": covered(spans, 0.0, duration_s) / duration_s,
        "flags": sum(1 for f in out if f.kind == kinds.DESYNC_FLAG and f.data["modality"] == modality),
        "index_z": index["index_z"],
        "minutes": duration_s / 60,
    }


@pytest.fixture(scope="module")
def rmea(shared_data) -> dict[str, np.ndarray]:
    """The four real intake sessions' motion energy: name -> (n, 2) patient, therapist at 25 Hz."""
    return {p.stem: np.loadtxt(p, skiprows=1) for p in sorted((shared_data / "dyadic").glob("*.txt"))}


def movement_features(patient: np.ndarray, therapist: np.ndarray) -> list[Feature]:
    n = min(patient.size, therapist.size)
    return [
        Feature(kinds.MOVEMENT, role, i / RMEA_RATE_HZ, {"energy": float(series[i])})
        for i in range(n)
        for role, series in (("patient", patient), ("therapist", therapist))
    ]


def test_movement_chance_level_holds_on_pseudo_dyads_of_real_sessions(rmea):
    rows = {}
    for a, b in itertools.permutations(rmea, 2):
        features = movement_features(rmea[a][:, 0], rmea[b][:, 1])
        rows[a, b] = measures(synchrony(features, ("movement",)), "movement", features[-1].t)
    above = np.array([r["above"] for r in rows.values()])
    in_sync = np.array([r["in_sync"] for r in rows.values()])
    flags, minutes = sum(r["flags"] for r in rows.values()), sum(r["minutes"] for r in rows.values())
    print(
        f"\nrMEA pseudo-dyads ({len(rows)}, {minutes:.0f} min): above chance {above.mean():.1%} "
        f"(per dyad {above.min():.1%}–{above.max():.1%}), in sync {in_sync.mean():.1%} "
        f"(max {in_sync.max():.1%}), {flags} desync flags ({10 * flags / minutes:.2f} per 10 min)"
    )
    assert len(rows) == 12 and all(r["windows"] > 150 for r in rows.values())
    assert 0.02 <= above.mean() <= 0.075  # nominal 5 %
    assert in_sync.mean() <= 0.10
    assert flags <= minutes / 10
    real = {
        name: measures(synchrony(movement_features(*d.T), ("movement",)), "movement", 600.0) for name, d in rmea.items()
    }
    pseudo_index = np.array([r["index_z"] for r in rows.values()])
    real_index = np.array([r["index_z"] for r in real.values()])
    print(
        f"session index z: real {np.round(real_index, 3)} (mean {real_index.mean():.3f}), "
        f"pseudo mean {pseudo_index.mean():.3f} (sd {pseudo_index.std(ddof=1):.3f})"
    )
    assert abs(pseudo_index.mean()) < 0.03  # pseudo-dyads sit at their own surrogates' level


def test_planted_eda_following_is_found_and_heart_rate_and_rsa_stay_at_chance(simulated_physio):
    follow = DyadSchedule().follow_stretches(SIM_DURATION_S)
    independent = [(b, a2) for (_, b), (a2, _) in zip(follow, follow[1:])]
    inside, outside, lags, physio = [], [], [], {"heart_rate": [], "rsa": []}
    for features in simulated_physio.values():
        out = synchrony(features, PHYSIO)
        spans = in_sync_spans(out, "eda", SIM_DURATION_S)
        # From 20 s into each stretch: a 45 s window needs time to fill with the new relation.
        inside += [covered(spans, a + 20, b) / (b - a - 20) for a, b in follow]
        outside += [covered(spans, a + 20, b) / (b - a - 20) for a, b in independent]
        lags += [
            f.data["lag_s"]
            for f in out
            if f.kind == kinds.SYNC
            and f.data["modality"] == "eda"
            and f.data["above_chance"]
            and any(a + 20 < f.data["t_center"] < b - 20 for a, b in follow)
        ]
        for modality, values in physio.items():
            values.append(measures(out, modality, SIM_DURATION_S)["above"])
    print(
        f"\nsimulated dyad (seeds {SIM_SEEDS}, {SIM_DURATION_S:.0f} s): EDA in sync {np.mean(inside):.0%} of "
        f"follow stretches (per stretch {min(inside):.0%}–{max(inside):.0%}), {np.mean(outside):.0%} of independent "
        f"ones (max {max(outside):.0%}); lag median {np.median(lags):+.2f} s "
        f"(IQR {np.percentile(lags, 25):+.2f}–{np.percentile(lags, 75):+.2f}); above chance: heart rate "
        f"{np.round(physio['heart_rate'], 3)}, RSA {np.round(physio['rsa'], 3)}"
    )
    assert np.mean(inside) >= 0.70
    assert np.mean(outside) <= 0.20
    assert np.median(lags) == pytest.approx(2.0, abs=0.25)
    assert np.mean(np.abs(np.array(lags) - 2.0) <= 0.25) >= 0.9
    assert max(physio["heart_rate"]) <= 0.10 and max(physio["rsa"]) <= 0.10


def test_simulated_pseudo_dyads_rarely_sync_or_flag_and_the_index_separates_real_dyads(simulated_physio):
    def run(patient_seed: int, therapist_seed: int) -> dict[str, dict[str, float]]:
        features = sorted(
            [f for f in simulated_physio[patient_seed] if f.role == "patient"]
            + [f for f in simulated_physio[therapist_seed] if f.role == "therapist"],
            key=lambda f: f.t,
        )
        out = synchrony(features, PHYSIO)
        return {m: measures(out, m, SIM_DURATION_S) for m in PHYSIO}

    real = [run(s, s)["eda"]["index_z"] for s in SIM_SEEDS]
    pseudo = [run(a, b) for a, b in itertools.permutations(SIM_SEEDS, 2)]
    pseudo_index = [p["eda"]["index_z"] for p in pseudo]
    flags = sum(p[m]["flags"] for p in pseudo for m in PHYSIO)
    minutes = len(pseudo) * SIM_DURATION_S / 60
    in_sync = {m: float(np.mean([p[m]["in_sync"] for p in pseudo])) for m in PHYSIO}
    above = {m: float(np.mean([p[m]["above"] for p in pseudo])) for m in PHYSIO}
    print(
        f"\nsimulated pseudo-dyads ({len(pseudo)}, {minutes:.0f} min): above chance {above}, in sync {in_sync}, "
        f"{flags} desync flags over all three modalities ({10 * flags / minutes:.2f} per 10 min); EDA session "
        f"index z: dyads {np.round(real, 3)}, pseudo-dyads {np.round(pseudo_index, 3)}"
    )
    assert flags <= minutes / 10
    assert all(v <= 0.10 for v in in_sync.values())
    assert all(v <= 0.075 for v in above.values())
    assert min(real) > max(pseudo_index)
