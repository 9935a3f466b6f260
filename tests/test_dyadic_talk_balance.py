"""Talk balance: shares of speaking time over the last minutes, from speech units, on data time."""

from __future__ import annotations

import numpy as np
import pytest

from dyadscope.stream.processors.dyadic.talk_balance import TalkBalance, TalkBalanceConfig
from dyadscope.stream.processors.registry import default_pipeline
from dyadscope.stream.types import Feature


def unit(role: str, start: float, end: float) -> Feature:
    return Feature("voice_segment", role, end, {"start": start, "end": end, "duration_s": end - start})


def _turns(rng, seconds: float, patient_share: float) -> list[Feature]:
    """Random turns: the patient speaks ``patient_share`` of the turns' time."""
    units, t = [], 0.0
    while t < seconds:
        role = "patient" if rng.random() < patient_share else "therapist"
        length = rng.uniform(0.5, 4.0)
        units.append(unit(role, t, t + length))
        t += length + rng.uniform(0.2, 1.5)
    return units


def _reference(units: list[Feature], t: float, window_s: float) -> dict[str, float]:
    """Seconds of each person's speech inside [t - window_s, t], by brute force."""
    out = {}
    for u in units:
        inside = min(u.data["end"], t) - max(u.data["start"], t - window_s)
        if inside > 0:
            out[u.role] = out.get(u.role, 0.0) + inside
    return out


def test_shares_match_a_brute_force_count_over_the_window():
    rng = np.random.default_rng(7)
    units = _turns(rng, 900.0, patient_share=0.7)
    processor = TalkBalance(TalkBalanceConfig(window_s=120.0, period_s=5.0))
    out = [b for u in units for b in processor.consume(u)]
    assert len(out) > 100 and all(b.role is None for b in out)
    assert len({int(b.t // 5.0) for b in out}) == len(out)  # at most one per 5 s of data time
    for balance in out[::10]:
        seen = [u for u in units if u.data["end"] <= balance.t]
        expected = _reference(seen, balance.t, 120.0)
        for role, seconds in balance.data["speech_s"].items():
            assert seconds == pytest.approx(expected.get(role, 0.0), abs=1e-6)
        assert sum(balance.data["share"].values()) == pytest.approx(1.0)
    late = [b.data["share"]["patient"] for b in out if b.t > 300]
    assert 0.55 < np.mean(late) < 0.85


def test_nobody_speaking_for_longer_than_the_window_starts_afresh_and_the_pipeline_runs_it():
    processor = TalkBalance(TalkBalanceConfig(window_s=60.0))
    assert processor.consume(unit("patient", 0.0, 10.0))[0].data["share"] == {"patient": 1.0}
    (after,) = processor.consume(unit("therapist", 200.0, 203.0))
    assert after.data["share"] == {"therapist": 1.0} and after.data["speech_s"] == {"therapist": 3.0}
    assert processor.consume(Feature("voice_segment", None, 204.0, {"start": 203.5, "end": 204.0})) == []
    pipeline = default_pipeline()
    made = [f.kind for f in pipeline.feed([unit("patient", 0.0, 2.0)])]
    assert "talk_balance" in made
