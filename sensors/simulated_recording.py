"""A whole simulated session written through the recorder: raw streams, measures, markers.

For the export tests, the recorder benchmark and demos: the simulated dyad's
six raw streams (:class:`~dyadscope.sensors.simulate.SimulatedDyad`) in LSL-sized
chunks, plus a plausible event log of every measure the report draws (heart
rate, EDA level, RSA per breath, face valence, vocal arousal, synchrony per
modality with its chance level, dissonance, quality, the resting baseline)
shaped by the dyad's planted schedule, and a marker every five minutes.
The measures are made up from the schedule, not computed from the signals:
they exercise the file, not the science.
"""

from __future__ import annotations

import math

import numpy as np

from dyadscope.sensors.simulate import SimulatedDyad
from dyadscope.stream import kinds
from dyadscope.stream.types import ROLES, Event, Role
from dyadscope.xdf.recorder import Recorder

SYNCHRONY_MODALITIES = ("eda", "heart_rate", "rsa", "face_valence", "vocal_arousal")
#: Session seconds before a synchrony chance level exists (the live one waits for 19 surrogates).
CHANCE_AFTER_S = 20.0


def _event(seq: int, t: float, kind: str, role: Role | None, **data) -> Event:
    return Event(session="simulated", seq=seq, t=t, t_emit=t, kind=kind, role=role, data=data)


def simulated_events(dyad: SimulatedDyad, start: float, stop: float, seq: int = 0) -> list[Event]:
    """The made-up measures for session times ``[start, stop)`` (seconds), numbered after ``seq``."""
    s = dyad.schedule
    out: list[Event] = []

    def add(t: float, kind: str, role: Role | None, **data) -> None:
        out.append(_event(seq + len(out) + 1, dyad.start_time + t, kind, role, **data))

    if start <= s.rest_duration < stop:
        for role in ROLES:
            add(s.rest_duration, kinds.BASELINE, role, start_t=dyad.start_time, end_t=dyad.start_time + s.rest_duration)
    for t in np.arange(math.ceil(start * 4) / 4, stop, 0.25):
        wave = math.sin(2 * math.pi * t / 97.0)
        for role in ROLES:
            arousal = float(s.arousal(role, t))
            add(t, kinds.EDA, role, tonic_us=2.0 + 0.5 * arousal + 0.1 * wave, phasic_us=0.05 * arousal)
            if t % 1.0 == 0:
                add(t, kinds.HEART_RATE, role, bpm=70 + 18 * arousal + 2 * wave, quality="good")
                breath_t = 4.0 * math.floor(t / 4.0)  # the latest breath's onset: one every 4 s
                p2t_ms = 1e3 * 2 * float(s.rsa_amplitude(role, breath_t))
                add(t, kinds.RSA, role, p2t_ms=p2t_ms, p2t_breath_t=dyad.start_time + breath_t, source="rsp")
                add(t, kinds.FACE_AFFECT, role, valence=0.3 * wave - 0.4 * arousal, arousal=arousal)
        if t % 1.0 == 0:
            follow = float(s.following(t))
            for m, modality in enumerate(SYNCHRONY_MODALITIES):
                r = 0.2 + 0.5 * follow + 0.2 * math.sin(t / 13.0 + m)
                chance = 0.45 + 0.05 * math.sin(t / 40.0 + m) if t >= CHANCE_AFTER_S else None
                above = None if chance is None else abs(r) > chance
                add(t, kinds.SYNC, None, modality=modality, r=r, abs_r=abs(r), lag_s=-1.5, chance_r=chance,
                    above_chance=above, baseline_n=19 if chance is not None else 0)  # fmt: skip
        if t % 3.0 == 0:
            for role in ROLES:
                arousal = float(s.arousal(role, t))
                add(t, kinds.VOICE_SEGMENT, role, start=t - 1.8, end=t, arousal=0.8 * arousal - 0.2, valence=None)
        if t % 90.0 == 45.0:
            episode = {"start": t - 2.0, "end": t, "units": 1}
            add(
                t,
                kinds.DISSONANCE,
                "patient",
                start=t - 2.0,
                end=t,
                status="judged",
                scale="relative",
                score=2.8,
                threshold=2.0,
                size=1.4,
                direction="face calm, voice aroused",
                dissonant=True,
                episode=episode,
            )
        if t % 600.0 == 400.0:
            add(t, kinds.QUALITY, "therapist", stream="EDA", status="poor", problems=["flat"])
            add(t, kinds.DESYNC_FLAG, None, modality="eda", since=t - 130.0, out_of_sync_s=130.0, in_sync_s=60.0)
    return out


def record_simulated_session(recorder: Recorder, duration: float, *, seed: int = 7, chunk_s: float = 0.1) -> int:
    """Record ``duration`` seconds of a simulated session; returns the number of raw samples."""
    dyad = SimulatedDyad(seed)
    for info in dyad.stream_infos():
        recorder.add_stream(info)
    samples, seq, t = 0, 0, 0.0
    while t < duration:
        until = min(duration, t + chunk_s)
        for chunk in dyad.read_until(until):
            recorder.write(chunk)
            samples += len(chunk)
        events = simulated_events(dyad, t, until, seq)
        seq += len(events)
        recorder.write_events(events)
        if math.floor(until / 300.0) > math.floor(t / 300.0):
            recorder.marker(math.floor(until / 300.0) * 300.0, f"block {math.floor(until / 300.0)}")
        t = until
    return samples
