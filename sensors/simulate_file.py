"""The simulated dyad written to an XDF file at full speed, with its planted structure.

What ``dyadscope simulate --out`` writes, so ``analyze``, ``export`` and the
planted-truth tests can use the simulation without waiting for real time:

* the six raw streams of :class:`~dyadscope.sensors.simulate.SimulatedDyad`,
  each with the header its live LSL outlet sends
  (:func:`~dyadscope.sensors.lsl_outlets.lsl_stream_info`: role, channels,
  units), so the file reads as a live recording of ``dyadscope simulate`` would;
* the planted structure (:func:`planted_structure`: rest, EDA follow stretches
  with their lag, arousal episodes, RSA, each person's resting heart rate) as
  JSON in the file header (:data:`~dyadscope.xdf.schema.PLANTED`), and as
  markers where each planted stretch begins and ends (:func:`planted_markers`).

Data time only: nothing sleeps. The samples go to the crash-safe
:class:`~dyadscope.xdf.recorder.Recorder` chunk by chunk and are flushed once
a megabyte waits, so memory stays bounded however long the session.
Timestamps are session seconds (the dyad starts at 0).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dyadscope.sensors.lsl_outlets import lsl_stream_info
from dyadscope.sensors.simulate import SimulatedDyad
from dyadscope.stream.types import ROLES
from dyadscope.xdf import schema
from dyadscope.xdf.recorder import Recorder

__all__ = ["planted_markers", "planted_structure", "write_simulated_recording"]

_FLUSH_BYTES = 1 << 20  # write to disk once this much waits, rather than holding the session in memory


def _clipped(spans: list[tuple[float, float]], duration_s: float) -> list[list[float]]:
    return [[start, min(end, duration_s)] for start, end in spans if start < duration_s]


def planted_structure(dyad: SimulatedDyad, duration_s: float) -> dict[str, object]:
    """What ``dyad`` plants in its first ``duration_s`` seconds; times in session seconds, ``[start, end]``.

    ``eda_follow.stretches_s`` are when the patient's SCR onsets are copied:
    they reach the therapist ``lag_s`` later, at ``gain`` times the amplitude.
    Arousal episodes have raised-cosine edges of ``edge_s``. RSA is the
    peak-to-trough swing of the heart period. See :mod:`dyadscope.sensors.simulate`.
    """
    s = dyad.schedule
    return {
        "generator": f"{SimulatedDyad.__module__}.{SimulatedDyad.__name__}",
        "seed": dyad.seed,
        "duration_s": duration_s,
        "rest_s": [0.0, min(s.rest_duration, duration_s)],
        "eda_follow": {
            "leader": "patient",
            "follower": "therapist",
            "lag_s": s.eda_lag,
            "gain": s.eda_copy_gain,
            "stretches_s": _clipped(s.follow_stretches(duration_s), duration_s),
        },
        "arousal": {
            "edge_s": s.arousal_edge,
            "heart_rate_increase_bpm": s.arousal_hr_increase,
            "rsa_factor": s.arousal_rsa_factor,
            "episodes_s": {role: _clipped(s.arousal_episodes(role, duration_s), duration_s) for role in ROLES},
        },
        "rsa_p2t_ms": {"rest": 2e3 * s.rsa_rest, "session": 2e3 * s.rsa_session},
        "people": {
            role: {
                "resting_heart_rate_bpm": round(p.hr0, 3),
                "breathing_rate_hz": round(p.breath_rate, 4),
                "eda_level_us": round(p.eda_level, 3),
            }
            for role, p in dyad.persons.items()
        },
    }


def planted_markers(planted: dict) -> list[tuple[float, str]]:
    """(session time, text) where each planted stretch of :func:`planted_structure` begins and ends, in order."""
    duration_s = planted["duration_s"]
    follow = planted["eda_follow"]
    spans = [("rest", planted["rest_s"])]
    spans += [(f"EDA follow ({follow['follower']} follows {follow['leader']} by {follow['lag_s']:g} s)", span)
              for span in follow["stretches_s"]]  # fmt: skip
    for role, episodes in planted["arousal"]["episodes_s"].items():
        spans += [(f"{role} arousal", span) for span in episodes]
    marks = [(start, f"{what} begins") for what, (start, _) in spans]
    marks += [(end, f"{what} ends") for what, (_, end) in spans if end < duration_s]
    return sorted(marks)


def write_simulated_recording(
    path: Path | str,
    duration_s: float,
    *,
    seed: int = 1,
    chunk_s: float = 1.0,
    progress: Callable[[float], None] | None = None,
) -> dict[str, object]:
    """Write ``duration_s`` seconds of the simulated dyad of ``seed`` to a new XDF file; returns what was planted.

    ``progress`` is called with the session time reached after every chunk.
    The file must not exist (the recorder never replaces one).
    """
    dyad = SimulatedDyad(seed)
    planted = planted_structure(dyad, duration_s)
    markers = planted_markers(planted)
    with Recorder(path, {"task": "simulation", **schema.planted_field(planted)}) as recorder:
        for info in dyad.stream_infos():
            recorder.add_stream(info, lsl_stream_info(info).as_xml())
        step, until = 0, 0.0
        while until < duration_s:
            step += 1
            until = min(duration_s, step * chunk_s)
            for chunk in dyad.read_until(until):
                recorder.write(chunk)
            while markers and markers[0][0] < until:
                recorder.marker(*markers.pop(0))
            if recorder.pending_bytes > _FLUSH_BYTES:
                recorder.flush()
            if progress is not None:
                progress(until)
    return planted
