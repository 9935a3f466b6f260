"""Who is speaking: enrolled voices, the mouth-opening cue, crosstalk between microphones.

Each person is enrolled from their own speech (``Speakers.enrol``): the
partial-utterance embeddings of the speaker encoder
(:mod:`dyadscope.models.speaker_encoder`) are averaged into one L2-normalised
voiceprint. A speech unit's embedding is compared with every voiceprint by
cosine similarity and turned into probabilities with GE2E's own trained
scale, ``softmax(w · cos + b)`` (``w``, ``b`` = ``similarity_weight``,
``similarity_bias`` of Resemblyzer's ``pretrained.pt``, 70.9 and −4.18).

Where a camera sees both people, the mouth-opening series of each
(``MouthTracks.push``, e.g. FaceMesh's opening per frame) gives a second cue:
a person's mouth activity over the unit is the standard deviation of their
opening; the face probabilities are the activities' shares. The face cue is
used only when every candidate has at least ``min_mouth_samples`` in the
unit. With both cues the probabilities multiply (independent evidence) and
are renormalised. ``source`` tells what decided: ``"voice"``, ``"face"``,
``"both"``; ``confidence`` is the winner's probability.

Crosstalk: with one microphone per person, the other person's voice reaches
each microphone some decibels lower and may form units of its own. A unit on
person R's microphone attributed to someone else is crosstalk; the same
speech forms the speaker's own unit on their microphone, so the copy is
dropped (``is_crosstalk``).

Overlapping speech: a unit holding both voices has one embedding between the
two voiceprints; it goes to the nearer one (usually who spoke longer or
louder) with a lower confidence, and the other person's share of it is not
counted. With one microphone per person each microphone's unit of the
overlap is its owner's, so both are kept.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from dyadscope.models.speaker_encoder import SpeakerEncoder, partial_mels
from dyadscope.stream.types import Role

#: GE2E's trained similarity scale and offset (``similarity_weight``, ``similarity_bias`` in ``pretrained.pt``).
SIMILARITY_WEIGHT = 70.89291381835938
SIMILARITY_BIAS = -4.1807332038879395


@dataclass(frozen=True)
class Attribution:
    """Who spoke one unit: ``speaker`` (a role), ``confidence`` in [0, 1], ``source`` (voice, face, both)."""

    speaker: Role
    confidence: float
    source: str


def _normalised(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def voice_probabilities(embedding: np.ndarray, prints: dict[Role, np.ndarray]) -> dict[Role, float]:
    """Probability of each enrolled person from cosine similarity, with GE2E's scale."""
    roles = list(prints)
    logits = np.array([SIMILARITY_WEIGHT * float(embedding @ prints[r]) + SIMILARITY_BIAS for r in roles])
    p = np.exp(logits - logits.max())
    return dict(zip(roles, (p / p.sum()).tolist(), strict=True))


class MouthTracks:
    """Recent mouth-opening samples per person (session seconds, opening in any fixed unit).

    Thread-safe: cameras push from the event loop while microphones read from worker threads.
    """

    def __init__(self, horizon_s: float = 30.0, min_mouth_samples: int = 3):
        self.horizon_s = horizon_s
        self.min_mouth_samples = min_mouth_samples
        self._tracks: dict[Role, deque[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    @property
    def roles(self) -> list[Role]:
        """The people with mouth samples."""
        with self._lock:
            return list(self._tracks)

    def push(self, role: Role, t: float, opening: float) -> None:
        """Add one sample of ``role``'s mouth opening at time ``t``; forgets samples older than the horizon."""
        with self._lock:
            track = self._tracks.setdefault(role, deque())
            track.append((float(t), float(opening)))
            while track and track[0][0] < t - self.horizon_s:
                track.popleft()

    def activity(self, role: Role, start: float, end: float) -> float | None:
        """Standard deviation of ``role``'s opening within [start, end]; None with too few samples."""
        with self._lock:
            values = [v for t, v in self._tracks.get(role, ()) if start <= t <= end]
        return float(np.std(values)) if len(values) >= self.min_mouth_samples else None

    def probabilities(self, roles: list[Role], start: float, end: float) -> dict[Role, float] | None:
        """Each person's share of the mouth activity over the unit; None unless every one is seen."""
        activity = {r: self.activity(r, start, end) for r in roles}
        if not roles or any(a is None for a in activity.values()):
            return None
        total = sum(activity.values())
        if total <= 0.0:
            return None
        return {r: a / total for r, a in activity.items()}


def combine(voice: dict[Role, float] | None, face: dict[Role, float] | None) -> Attribution | None:
    """The attribution from voice and/or face probabilities (multiplied where both exist)."""
    if voice and face:
        joint = {r: voice[r] * face.get(r, 0.0) for r in voice}
        total = sum(joint.values())
        if total > 0.0:
            best = max(joint, key=joint.get)
            return Attribution(best, joint[best] / total, "both")
        face = None
    chosen, source = (voice, "voice") if voice else (face, "face")
    if not chosen:
        return None
    best = max(chosen, key=chosen.get)
    return Attribution(best, float(chosen[best]), source)


class Speakers:
    """Enrolled voiceprints, the mouth cue, and the attribution of speech units.

    Thread-safe: the encoder runs outside the lock, so enrolling never holds up a reader for long.
    """

    def __init__(self, encoder: SpeakerEncoder, mouths: MouthTracks | None = None):
        self.encoder = encoder
        self.mouths = mouths or MouthTracks()
        self._sums: dict[Role, np.ndarray] = {}
        self._counts: dict[Role, int] = {}
        self._lock = threading.Lock()

    @property
    def enrolled(self) -> tuple[Role, ...]:
        """The people with a voiceprint."""
        with self._lock:
            return tuple(self._sums)

    def partial_counts(self) -> dict[Role, int]:
        """Each enrolled person's number of partial utterances (1.6 s each, about 0.77 s apart)."""
        with self._lock:
            return dict(self._counts)

    def enrol(self, role: Role, signal: np.ndarray) -> int:
        """Add 16 kHz speech of ``role`` to their voiceprint; returns their number of partials so far."""
        partials = self.encoder.partials(partial_mels(signal))
        with self._lock:
            self._sums[role] = self._sums.get(role, 0.0) + partials.sum(axis=0)
            self._counts[role] = self._counts.get(role, 0) + len(partials)
            return self._counts[role]

    def forget(self, role: Role) -> None:
        """Drop ``role``'s voiceprint (to enrol them again)."""
        with self._lock:
            self._sums.pop(role, None)
            self._counts.pop(role, None)

    def voiceprints(self) -> dict[Role, np.ndarray]:
        """Each enrolled person's L2-normalised mean partial embedding."""
        with self._lock:
            return {r: _normalised(s) for r, s in self._sums.items()}

    def attribute(self, signal: np.ndarray, start: float, end: float, candidates: list[Role] | None = None):
        """Who spoke the unit ``signal`` (session times ``start``–``end``); None with no cue at all.

        ``candidates`` are the people the face cue considers (default: the enrolled ones, else
        everyone with mouth samples).
        """
        prints = self.voiceprints()
        voice = voice_probabilities(self.encoder.embed(signal), prints) if len(prints) >= 2 else None
        roles = candidates or list(prints) or self.mouths.roles
        return combine(voice, self.mouths.probabilities(roles, start, end))


def is_crosstalk(microphone: Role | None, attribution: Attribution | None) -> bool:
    """Whether a unit on ``microphone``'s owner's microphone is someone else's speech."""
    return microphone is not None and attribution is not None and attribution.speaker != microphone
