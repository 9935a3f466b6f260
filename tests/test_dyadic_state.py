"""Synchrony state with hysteresis, and the throttled desynchrony flag."""

from __future__ import annotations

import numpy as np

from dyadscope.stream.processors.dyadic._sync_state import DesyncFlagger, StateConfig, SyncStateTracker

LEVELS = (0.4, 0.6)  # (exit level, chance level) from the surrogate baseline


def run(tracker: SyncStateTracker, times: np.ndarray, r: np.ndarray, levels=LEVELS):
    return [(t, tr) for t, v in zip(times, r) if (tr := tracker.update(float(t), float(v), levels)) is not None]


def test_noise_around_one_threshold_does_not_flicker():
    rng = np.random.default_rng(0)
    times = np.arange(0, 600, 2.0)
    r = 0.6 + 0.05 * rng.standard_normal(times.size)  # hovers around the chance level, never below exit
    transitions = run(SyncStateTracker(StateConfig(enter_r=0.3, exit_r=0.2)), times, r)
    # In sync once r has stayed at the chance level for confirm_s (three values 2 s apart); never out again.
    above = r >= LEVELS[1]
    first = next(i for i in range(times.size - 2) if above[i : i + 3].all())
    assert [(t, tr.state, tr.since) for t, tr in transitions] == [(times[first + 2], "in_sync", times[first])]


def test_hysteresis_confirm_and_dwell():
    config = StateConfig(enter_r=0.3, exit_r=0.2, confirm_s=4.0, min_dwell_s=10.0)
    times = np.arange(0, 100, 2.0)
    r = np.full(times.size, 0.2)
    r[(times >= 20) & (times < 60)] = 0.8  # in sync 20-60 s
    r[(times >= 40) & (times < 44)] = 0.5  # a dip into the hysteresis band: no change
    r[(times >= 70) & (times < 72)] = 0.9  # one high window: not confirmed
    transitions = run(SyncStateTracker(config), times, r)
    states = [(tr.state, tr.since, tr.previous) for _, tr in transitions]
    assert states == [("out_of_sync", 0.0, None), ("in_sync", 20.0, "out_of_sync"), ("out_of_sync", 60.0, "in_sync")]
    assert [t for t, _ in transitions] == [4.0, 24.0, 64.0]


def test_state_lasts_at_least_min_dwell():
    tracker = SyncStateTracker(StateConfig(confirm_s=2.0, min_dwell_s=10.0))
    times = np.arange(0, 60, 1.0)
    r = np.where((times // 3) % 2 == 0, 0.9, 0.1)  # alternates every 3 s
    transitions = [tr for _, tr in run(tracker, times, r)]
    # Each change waits for the first 3 s stretch of the other state that holds confirm_s
    # and begins at least min_dwell_s after the current state did: every 15 s.
    states = [(tr.state, tr.since, tr.previous) for tr in transitions]
    assert states == [
        ("in_sync", 0.0, None),
        ("out_of_sync", 15.0, "in_sync"),
        ("in_sync", 30.0, "out_of_sync"),
        ("out_of_sync", 45.0, "in_sync"),
    ]
    assert np.all(np.diff([tr.since for tr in transitions]) >= 10.0)


def test_no_in_sync_before_the_baseline_exists():
    tracker = SyncStateTracker()
    states = [tr.state for t in range(0, 30, 2) if (tr := tracker.update(float(t), 0.95, None)) is not None]
    assert states == []
    states = [tr.state for t in range(0, 30, 2) if (tr := tracker.update(float(t), 0.1, None)) is not None]
    assert states == ["out_of_sync"]


def test_desync_flag_after_sustained_desync_and_throttled():
    flagger = DesyncFlagger(after_s=60.0, every_s=300.0)
    flags = [t for t in range(0, 1000, 2) if flagger.check(float(t), "out_of_sync", 0.0) is not None]
    assert flags == [62, 362, 662, 962]
    assert DesyncFlagger(60.0, 300.0).check(100.0, "in_sync", 0.0) is None
