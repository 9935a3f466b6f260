"""Synchrony state with hysteresis, and the throttled desynchrony flag."""

from __future__ import annotations

import numpy as np

from dyadscope.stream.processors.dyadic._sync_state import DesyncFlagger, StateConfig, SyncStateTracker, Transition

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


def flag_times(flagger: DesyncFlagger, transitions: dict[int, Transition], until: int) -> list[int]:
    """Feed transitions at their times and check every 2 s; the times of the flags."""
    out = []
    for t in range(0, until, 2):
        if t in transitions:
            flagger.transition(transitions[t])
        if flagger.check(float(t)) is not None:
            out.append(t)
    return out


def test_desync_flag_only_after_a_lost_in_sync_stretch_once_per_episode():
    never_in_sync = {0: Transition("out_of_sync", 0.0, None)}
    assert flag_times(DesyncFlagger(60.0, 300.0), never_in_sync, 1000) == []
    lost = {
        0: Transition("out_of_sync", 0.0, None),
        100: Transition("in_sync", 100.0, "out_of_sync"),
        200: Transition("out_of_sync", 200.0, "in_sync"),  # lost: one flag 60 s on, not more
        600: Transition("in_sync", 600.0, "out_of_sync"),
        610: Transition("out_of_sync", 610.0, "in_sync"),  # a 10 s in-sync blip: no flag
    }
    flagger = DesyncFlagger(60.0, 300.0, min_in_sync_s=30.0)
    assert flag_times(flagger, lost, 1000) == [262]


def test_desync_flags_are_throttled_and_sized():
    episodes = {}
    for start in (0, 200, 400):  # in sync 50 s, then lost
        episodes[start] = Transition("in_sync", float(start), "out_of_sync")
        episodes[start + 50] = Transition("out_of_sync", float(start + 50), "in_sync")
    flagger = DesyncFlagger(60.0, 300.0)
    assert flag_times(flagger, episodes, 1000) == [112, 512]  # the second loss falls within 300 s
    flagger = DesyncFlagger(60.0, 300.0)
    for t in (0, 50):
        flagger.transition(episodes[t])
    assert flagger.check(120.0) == {"since": 50.0, "out_of_sync_s": 70.0, "in_sync_s": 50.0}
