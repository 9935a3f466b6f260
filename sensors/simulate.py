"""A simulated patient–therapist dyad with planted, documented structure.

The generator is pure numpy (no LSL) and deterministic for a seed: the samples
are the same however the caller slices time into calls. It produces six
streams, three per person:

=========  =========  ========  =====================================
modality   rate (Hz)  unit      waveform
=========  =========  ========  =====================================
``ECG``    500        mV        P-QRS-T beats as sums of Gaussians (after
                                McSharry's ECGSYN), baseline wander, noise
``RSP``    50         a.u.      belt stretch, quasi-sinusoidal with varying
                                rate and depth; rising = inhalation
``EDA``    32         µS        tonic drift and wander + SCRs (Bateman shape,
                                rise to peak ~1.5 s, decay time constant
                                3.5 s) + noise
=========  =========  ========  =====================================

Times below are *session* times ``tau = t - start_time`` in seconds; a sample
``n`` of a stream at rate ``fs`` has timestamp ``start_time + n / fs``.
:class:`DyadSchedule` holds every number, with these defaults:

Respiration
    Phase ``phi(tau)`` is the integral of a breathing rate
    ``f(tau) = f0 + 0.03 sin(2 pi tau / 80 + a) + 0.02 sin(2 pi tau / 31 + b)``
    Hz (``f0`` per person, see :class:`PersonParameters`). The belt signal is
    ``depth(tau) * (-cos phi - 0.1 cos 2 phi)``, so it rises (inhalation)
    exactly when ``sin phi > 0``. :meth:`SimulatedDyad.respiratory_phase`
    gives ``phi`` for any time.

Heart period and RSA
    Beat ``k`` has its R peak at ``t_k``; the next follows after
    ``IBI_k = 60 / HR(t_k) - A_rsa(t_k) * sin phi(t_k) + e_k`` seconds, with
    ``e_k ~ N(0, 6 ms)``: the heart period is shorter when the beat falls in
    inhalation and longer in exhalation, with peak-to-trough swing
    ``2 * A_rsa``. ``A_rsa`` is 45 ms while resting (the first
    ``rest_duration`` = 180 s), 25 ms after, and during an arousal episode it
    drops to 30 % of that (:meth:`DyadSchedule.rsa_amplitude`).
    ``HR(tau) = hr0 + 2 sin(2 pi tau / 300 + c) + 18 * arousal(tau)`` bpm.

Arousal episodes
    After the rest, the session repeats a 600 s cycle. The patient is aroused
    from 120 s to 210 s into each cycle (session times 300–390, 900–990, ...),
    the therapist from 360 s to 420 s (540–600, 1140–1200, ...). Each episode
    has 10 s raised-cosine edges; ``arousal(tau)`` in [0, 1] is that envelope.
    Arousal raises heart rate by 18 bpm, multiplies the RSA amplitude by 0.3,
    raises the SCR rate from 2 to 10 per minute and the tonic EDA by 0.5 µS.

EDA following
    Each person's own SCRs are a Poisson process of rate
    ``2 + 8 * arousal(tau)`` per minute, amplitude ``0.15 + Exp(0.35)`` µS.
    After the rest, the session alternates 120 s where the therapist's EDA
    *follows* the patient's and 120 s where it is independent (follow from
    180–300, 420–540, 660–780 ...; independent during the rest and 300–420,
    540–660 ...). Every patient SCR whose onset falls in a follow stretch is
    copied to the therapist 2.0 s later (``eda_lag``) at 0.8 times its
    amplitude, and the therapist's own SCR rate is quartered while copies
    arrive (the follow stretch shifted by the lag), so the therapist's phasic
    EDA there lags the patient's by 2 s.

Coregulation
    The therapist's tonic EDA also wanders: an Ornstein–Uhlenbeck process
    (time constant 20 s, SD 0.5 µS) low-passed again over 3 s, so it is
    smooth (:class:`~._sim_person.TonicWander`). The
    patient's tonic EDA carries a component ``c`` driven by the therapist's
    arousal: each second ``c <- c - c / 8 s + kappa * d + N(0, 0.01 µS)``,
    where ``d`` is the therapist's tonic EDA above their slowly drifting level
    (wander plus 0.5 µS times arousal; :meth:`Person.tonic_arousal`, no SCRs).
    ``kappa`` is −0.25 /s (*dampening*: the therapist's raised arousal pulls
    the patient's down) from 220 s to 400 s into each cycle (session times
    400–580, 1000–1180, ...) and +0.25 /s (*amplification*: it pushes the
    patient's up) from 400 s to 580 s (580–760, 1180–1360, ...); 0 elsewhere
    and during the rest. The therapist is never driven this way.
    :meth:`DyadSchedule.coregulation_stretches` lists the stretches. The
    wander and ``c`` draw from their own generators per second, so every
    other draw of the simulation is as it was without them.

:meth:`SimulatedDyad.advance` returns, next to the chunks, the planted events
behind them (R-peak times, SCR onsets and amplitudes), so tests can check
detectors against the truth. Memory stays bounded: only the beats and SCRs
that still touch future samples are kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dyadscope.sensors._sim_person import BEAT_REACH, CoregulationDrive, Person, PersonParameters
from dyadscope.stream.types import ROLES, Chunk, Role, StreamInfo

__all__ = ["MODALITIES", "DyadSchedule", "PersonParameters", "SimBlock", "SimulatedDyad"]

#: Per modality: sample rate (Hz), unit, index in seeds.
MODALITIES: dict[str, tuple[int, str, int]] = {
    "ECG": (500, "mV", 0),
    "RSP": (50, "a.u.", 1),
    "EDA": (32, "µS", 2),
}

_NOISE_SD = {"ECG": 0.01, "RSP": 0.02, "EDA": 0.003}  # white noise, in each modality's unit


def _window(tau: np.ndarray, start: float, end: float, edge: float) -> np.ndarray:
    """A boxcar over [start, end) with raised-cosine edges of width ``edge``."""
    rise = np.clip((tau - start) / edge, 0.0, 1.0)
    fall = np.clip((end - tau) / edge, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))


@dataclass(frozen=True)
class DyadSchedule:
    """When the planted structure happens (session times, seconds) and how strong it is."""

    rest_duration: float = 180.0
    cycle: float = 600.0
    arousal_windows: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"patient": (120.0, 210.0), "therapist": (360.0, 420.0)}
    )
    arousal_edge: float = 10.0
    follow_period: float = 240.0
    follow_duration: float = 120.0
    eda_lag: float = 2.0
    eda_copy_gain: float = 0.8
    rsa_rest: float = 0.045
    rsa_session: float = 0.025
    arousal_rsa_factor: float = 0.3
    arousal_hr_increase: float = 18.0
    scr_rate: float = 2.0 / 60.0
    arousal_scr_rate: float = 8.0 / 60.0
    follow_own_scr_factor: float = 0.25
    coregulation_windows: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"dampening": (220.0, 400.0), "amplification": (400.0, 580.0)}
    )
    coregulation_gain: float = 0.25
    coregulation_tau: float = 8.0  # s
    coregulation_noise: float = 0.01

    def arousal(self, role: Role, tau: np.ndarray | float) -> np.ndarray:
        """Arousal envelope of ``role`` in [0, 1] at session times ``tau``."""
        tau = np.asarray(tau, dtype=float)
        start, end = self.arousal_windows[role]
        into_cycle = np.mod(tau - self.rest_duration, self.cycle)
        level = _window(into_cycle, start, end, self.arousal_edge)
        return np.where(tau >= self.rest_duration, level, 0.0)

    def rsa_amplitude(self, role: Role, tau: np.ndarray | float) -> np.ndarray:
        """Half the peak-to-trough swing of the heart period by respiration (seconds)."""
        tau = np.asarray(tau, dtype=float)
        base = np.where(tau < self.rest_duration, self.rsa_rest, self.rsa_session)
        return base * (1.0 - (1.0 - self.arousal_rsa_factor) * self.arousal(role, tau))

    def following(self, tau: np.ndarray | float) -> np.ndarray:
        """Whether a patient SCR with onset at ``tau`` is copied to the therapist."""
        tau = np.asarray(tau, dtype=float)
        into = np.mod(tau - self.rest_duration, self.follow_period)
        return (tau >= self.rest_duration) & (into < self.follow_duration)

    def coupling(self, tau: float) -> float:
        """The planted coupling ``kappa`` (1/s) of the patient's tonic EDA to the therapist's at ``tau``."""
        into_cycle = (tau - self.rest_duration) % self.cycle
        for kind, (start, end) in self.coregulation_windows.items():
            if tau >= self.rest_duration and start <= into_cycle < end:
                return -self.coregulation_gain if kind == "dampening" else self.coregulation_gain
        return 0.0

    def coregulation_stretches(self, until: float) -> list[tuple[float, float, str]]:
        """(start, end, kind) of each planted coregulation stretch that begins before ``until``, in time order."""
        out = []
        for k in range(max(0, math.ceil((until - self.rest_duration) / self.cycle))):
            base = self.rest_duration + k * self.cycle
            windows = self.coregulation_windows.items()
            out += [(base + a, base + b, kind) for kind, (a, b) in windows if base + a < until]
        return sorted(out)

    def arousal_episodes(self, role: Role, until: float) -> list[tuple[float, float]]:
        """(start, end) of each arousal episode of ``role`` that begins before ``until``."""
        start, end = self.arousal_windows[role]
        n = max(0, math.ceil((until - self.rest_duration - start) / self.cycle))
        base = self.rest_duration
        return [(base + k * self.cycle + start, base + k * self.cycle + end) for k in range(n)]

    def follow_stretches(self, until: float) -> list[tuple[float, float]]:
        """(start, end) of each stretch where the therapist's EDA follows, before ``until``."""
        n = max(0, math.ceil((until - self.rest_duration) / self.follow_period))
        base = self.rest_duration
        return [(base + k * self.follow_period, base + k * self.follow_period + self.follow_duration) for k in range(n)]


@dataclass(frozen=True)
class SimBlock:
    """What one :meth:`SimulatedDyad.advance` produced.

    ``chunks`` holds one chunk per stream in :meth:`SimulatedDyad.stream_infos`
    order (possibly empty). ``r_peaks[role]`` are the R-peak times falling in
    the ECG samples just produced; ``scrs[role]`` is an (n, 2) array of SCR
    onset time and amplitude (µS) for onsets within the EDA samples just
    produced. All times are timestamps (``start_time`` included).
    """

    chunks: list[Chunk]
    r_peaks: dict[str, np.ndarray]
    scrs: dict[str, np.ndarray]


class SimulatedDyad:
    """A patient and a therapist, generated incrementally and deterministically.

    Call :meth:`advance` with increasing times; each call returns the samples
    of all six streams from where the previous call stopped up to (excluding)
    ``until``. See the module docstring for the planted structure, and
    :attr:`schedule` / :attr:`persons` for its numbers.
    """

    def __init__(
        self,
        seed: int,
        start_time: float = 0.0,
        *,
        schedule: DyadSchedule | None = None,
        tag: str = "",
    ):
        self.seed = int(seed)
        self.start_time = float(start_time)
        self.schedule = schedule or DyadSchedule()
        self._tag = tag
        self._persons = {role: Person(self.seed, i, role, self.schedule) for i, role in enumerate(ROLES)}
        patient, therapist = self._persons["patient"], self._persons["therapist"]
        patient.coregulation = CoregulationDrive(self.seed, self.schedule, therapist.tonic_arousal)
        self.persons: dict[str, PersonParameters] = {r: p.params for r, p in self._persons.items()}
        self._infos = [self._make_info(role, modality) for role in ROLES for modality in MODALITIES]
        self._emitted = {info.key: 0 for info in self._infos}
        self._blocks: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}  # per stream: the latest second
        self._copied_until = -math.inf  # patient SCR onsets up to here were copied

    def _make_info(self, role: Role, modality: str) -> StreamInfo:
        rate, unit, _ = MODALITIES[modality]
        suffix = f" {self._tag}" if self._tag else ""
        return StreamInfo(
            name=f"DyadScope {role} {modality}{suffix}",
            modality=modality,
            channel_count=1,
            nominal_rate=float(rate),
            channel_format="float32",
            source_id=f"dyadscope-sim-{self.seed}-{role}-{modality}" + (f"-{self._tag}" if self._tag else ""),
            role=role,
            channel_labels=(modality,),
            units=(unit,),
        )

    def stream_infos(self) -> list[StreamInfo]:
        """The six streams: patient ECG, RSP, EDA, then therapist ECG, RSP, EDA."""
        return list(self._infos)

    def respiratory_phase(self, role: Role, t: np.ndarray | float) -> np.ndarray:
        """The planted respiratory phase (radians) of ``role`` at timestamps ``t``.

        Inhalation is ``sin(phase) > 0``.
        """
        return self._persons[role].phase(np.asarray(t, dtype=float) - self.start_time)

    def heart_rate(self, role: Role, t: np.ndarray | float) -> np.ndarray:
        """The planted heart rate (bpm) of ``role`` at timestamps ``t``, before the respiratory swing (RSA).

        The median heart period over a few breaths is ``60 / heart_rate``.
        """
        tau = np.atleast_1d(np.asarray(t, dtype=float)) - self.start_time
        return np.array([self._persons[role].heart_rate(float(x)) for x in tau])

    def read_until(self, until: float) -> list[Chunk]:
        """The chunks of :meth:`advance` alone (the chunk-source interface)."""
        return self.advance(until).chunks

    def advance(self, until: float) -> SimBlock:
        """Every sample with timestamp < ``until`` not returned before, plus the planted events."""
        horizon = until - self.start_time
        chunks: list[Chunk] = []
        r_peaks: dict[str, np.ndarray] = {}
        scrs: dict[str, np.ndarray] = {}
        for info in self._infos:
            rate = int(info.nominal_rate)
            first = self._emitted[info.key]
            last = max(first, math.ceil(horizon * rate - 1e-9))
            values, events = self._samples(info, first, last)
            self._emitted[info.key] = last
            timestamps = self.start_time + np.arange(first, last) / rate
            chunks.append(Chunk(info, timestamps, values[:, None]))
            if info.modality == "ECG":
                r_peaks[info.role] = events[:, 0] + self.start_time
            elif info.modality == "EDA":
                scrs[info.role] = events + [self.start_time, 0.0]
        return SimBlock(chunks, r_peaks, scrs)

    def _place_scrs(self, horizon: float) -> None:
        """Make sure both people's SCRs with onset <= ``horizon`` are placed, in onset order."""
        patient, therapist = self._persons["patient"], self._persons["therapist"]
        s = self.schedule
        patient.scrs.extend(patient.own_scrs.until(horizon))
        copies = [
            (onset + s.eda_lag, s.eda_copy_gain * amplitude)
            for onset, amplitude in patient.scrs
            if self._copied_until < onset <= horizon - s.eda_lag and s.following(onset)
        ]
        self._copied_until = max(self._copied_until, horizon - s.eda_lag)
        therapist.scrs = sorted(therapist.scrs + therapist.own_scrs.until(horizon) + copies)

    def _samples(self, info: StreamInfo, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """Samples ``first`` to ``last`` (exclusive) of one stream, and the events among them.

        Events are rows whose first column is a session time (R peaks; SCR
        onset and amplitude).
        """
        rate = int(info.nominal_rate)
        out = np.empty(last - first)
        events = []
        n = first
        while n < last:
            block = n // rate
            stop = min(last, (block + 1) * rate)
            values, block_events = self._block(info, block)
            out[n - first : stop - first] = values[n - block * rate : stop - block * rate]
            times = block_events[:, 0]
            events.append(block_events[(times >= n / rate) & (times < stop / rate)])
            n = stop
        return out, np.concatenate(events) if events else np.empty((0, 2))

    def _block(self, info: StreamInfo, block: int) -> tuple[np.ndarray, np.ndarray]:
        """Second ``block`` of a stream and the events in it, generated once (blocks come in order).

        Whole seconds are generated even when fewer samples are asked for, so
        the samples are the same however the caller slices time, and a live
        publisher pays for the generation once per second, not per call.
        """
        cached = self._blocks.get(info.key)
        if cached is not None and cached[0] == block:
            return cached[1], cached[2]
        person = self._persons[info.role]
        rate, _, modality_index = MODALITIES[info.modality]
        start, end = float(block), float(block + 1)
        rng = np.random.default_rng([self.seed, ROLES.index(info.role), 20 + modality_index, block])
        noise = rng.normal(0.0, _NOISE_SD[info.modality], rate)
        tau = np.arange(block * rate, (block + 1) * rate) / rate
        if info.modality == "ECG":
            person.beats_until(end + BEAT_REACH)
            values = person.ecg(tau, noise)
            events = np.array([[b] for b, _ in person.beats if start <= b < end]).reshape(-1, 1)
        elif info.modality == "EDA":
            self._place_scrs(end)
            values = person.eda(tau, noise)
            events = np.array([s for s in person.scrs if start <= s[0] < end]).reshape(-1, 2)
        else:
            values, events = person.rsp(tau, noise), np.empty((0, 1))
        self._blocks[info.key] = (block, values, events)
        return values, events
