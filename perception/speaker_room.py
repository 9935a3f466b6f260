"""One room's speaker attribution, live: enrolment windows, recent units' audio, voiceprints, mouths.

Every microphone and camera of a session shares one :class:`SpeakerRoom`
(thread-safe: microphones call it from worker threads, cameras and the rig's
requests from the event loop).

Enrolment is by *window*: the research assistant says that ``role`` spoke
(alone) over session times ``[start, end]`` (:meth:`SpeakerRoom.enrol`), e.g.
"the last 30 s" during the resting baseline, or "from now for 30 s". The part
of every speech unit inside the window goes into that person's voiceprint:
units already closed (the room holds the last ``history_s`` of units' audio)
at once, later ones as they close. A unit mostly inside a window is the window's
person's (``source`` "enrolment"). Only a unit from a shared microphone or
from the person's own microphone enrols; on the other person's microphone it
is their crosstalk.

Outside windows, once two people have voiceprints (or the camera sees
mouths), each unit goes to the most probable person
(:meth:`~.speakers.Speakers.attribute`).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from dyadscope.models.vad import SAMPLE_RATE
from dyadscope.perception.speakers import Attribution, Speakers
from dyadscope.stream.types import Role

#: Least speech (s) of a unit inside a window that is enrolled; shorter overlaps are edges.
MIN_ENROL_S = 0.3


@dataclass(frozen=True)
class _Unit:
    microphone: Role | None
    start: float
    end: float
    audio: np.ndarray


@dataclass(frozen=True)
class Window:
    """``role`` spoke alone from ``start`` to ``end`` (session seconds)."""

    role: Role
    start: float
    end: float

    def overlap(self, start: float, end: float) -> float:
        """Seconds of [start, end] inside the window."""
        return max(0.0, min(end, self.end) - max(start, self.start))


class SpeakerRoom:
    """Speaker attribution shared by a session's microphones and cameras (see the module docstring)."""

    def __init__(self, speakers: Speakers, history_s: float = 300.0):
        self.speakers = speakers
        self.history_s = history_s
        self._held: deque[_Unit] = deque()
        self._windows: list[Window] = []
        self._speech_s: dict[Role, float] = {}
        self._lock = threading.Lock()

    def enrol(self, window: Window) -> dict:
        """Enrol ``window.role`` from held units inside the window now, and from later ones as they close.

        Returns the person's enrolment so far (:meth:`state`). Runs the
        encoder: call it off the event loop.
        """
        with self._lock:
            self._windows.append(window)
            held = [u for u in self._held if self._enrols(window, u)]
        for unit in held:
            self._enrol(window, unit)
        return self.state()[window.role]

    def forget(self, role: Role) -> None:
        """Drop ``role``'s voiceprint and windows, to enrol them again."""
        with self._lock:
            self._windows = [w for w in self._windows if w.role != role]
            self._speech_s.pop(role, None)
        self.speakers.forget(role)

    def state(self) -> dict[Role, dict]:
        """Per person: enrolled speech (s), partial utterances, and their windows."""
        counts = self.speakers.partial_counts()
        with self._lock:
            roles = sorted(set(counts) | {w.role for w in self._windows})
            return {
                r: {
                    "speech_s": round(self._speech_s.get(r, 0.0), 2),
                    "partials": counts.get(r, 0),
                    "windows": [[w.start, w.end] for w in self._windows if w.role == r],
                }
                for r in roles
            }

    def push_mouth(self, role: Role, t: float, opening: float) -> None:
        """One mouth-opening sample of ``role`` at session time ``t`` (FaceMesh's ``mouth_open``)."""
        self.speakers.mouths.push(role, t, opening)

    def unit(self, microphone: Role | None, audio: np.ndarray, start: float, end: float) -> Attribution | None:
        """Who spoke a unit that just closed on ``microphone``'s owner's microphone (None: shared); None: unknown."""
        unit = _Unit(microphone, start, end, audio)
        with self._lock:
            self._held.append(unit)
            while self._held and self._held[0].end < end - self.history_s:
                self._held.popleft()
            inside = [w for w in self._windows if w.overlap(start, end) >= 0.5 * (end - start)]
        if inside:
            window = max(inside, key=lambda w: w.overlap(start, end))
            if self._enrols(window, unit):
                self._enrol(window, unit)
            return Attribution(window.role, 1.0, "enrolment")
        return self.speakers.attribute(audio, start, end)

    @staticmethod
    def _enrols(window: Window, unit: _Unit) -> bool:
        return unit.microphone in (None, window.role) and window.overlap(unit.start, unit.end) >= MIN_ENROL_S

    def _enrol(self, window: Window, unit: _Unit) -> None:
        first = int(round(max(0.0, window.start - unit.start) * SAMPLE_RATE))
        last = int(round((min(window.end, unit.end) - unit.start) * SAMPLE_RATE))
        self.speakers.enrol(window.role, unit.audio[first:last])
        with self._lock:
            self._speech_s[window.role] = self._speech_s.get(window.role, 0.0) + (last - first) / SAMPLE_RATE
