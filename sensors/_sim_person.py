"""One simulated person of :mod:`dyadscope.sensors.simulate`: heart beats, breathing and SCRs as they unfold.

:class:`Person` holds what a person's signals still depend on (beats and SCRs
within reach of future samples) and renders ECG, respiration and EDA for
given session times; :class:`~dyadscope.sensors.simulate.SimulatedDyad`
drives two of them. The waveforms and their numbers are documented in that
module's docstring.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dyadscope.stream.types import Role

if TYPE_CHECKING:
    from dyadscope.sensors.simulate import DyadSchedule

# ECG waves (P, Q, R, S, T) after ECGSYN: time of the wave centre relative to
# the R peak and width, both for a 1 s heart period (they scale with the square
# root of the period, as QT does), and amplitude in mV.
_WAVE_OFFSET = np.array([-0.20, -0.028, 0.0, 0.028, 0.30])
_WAVE_WIDTH = np.array([0.025, 0.010, 0.011, 0.010, 0.060])
_WAVE_AMPLITUDE = np.array([0.15, -0.12, 1.20, -0.25, 0.30])
BEAT_REACH = 0.7  # s either side of the R peak beyond which a beat adds nothing

_SCR_RISE = 0.75  # s, Bateman rise time constant
_SCR_DECAY = 3.5  # s, decay time constant
_SCR_REACH = 30.0  # s after onset beyond which an SCR adds nothing
_SCR_PEAK_TIME = math.log(_SCR_DECAY / _SCR_RISE) * _SCR_RISE * _SCR_DECAY / (_SCR_DECAY - _SCR_RISE)
_SCR_PEAK = math.exp(-_SCR_PEAK_TIME / _SCR_DECAY) - math.exp(-_SCR_PEAK_TIME / _SCR_RISE)


@dataclass(frozen=True)
class PersonParameters:
    """One simulated person's constants, drawn from the seed."""

    hr0: float  # bpm, resting heart rate
    breath_rate: float  # Hz, mean breathing rate f0
    breath_phases: tuple[float, float, float]  # phases of the rate and depth modulations
    hr_phase: float
    phase0: float  # respiratory phase at tau = 0
    eda_level: float  # µS, tonic level
    eda_phase: float


def draw_person(rng: np.random.Generator, role: Role) -> PersonParameters:
    hr_low, breath_low, eda_low = (68.0, 0.22, 3.0) if role == "patient" else (60.0, 0.20, 4.0)
    return PersonParameters(
        hr0=float(rng.uniform(hr_low, hr_low + 10.0)),
        breath_rate=float(rng.uniform(breath_low, breath_low + 0.05)),
        breath_phases=tuple(float(x) for x in rng.uniform(0, 2 * np.pi, 3)),
        hr_phase=float(rng.uniform(0, 2 * np.pi)),
        phase0=float(rng.uniform(0, 2 * np.pi)),
        eda_level=float(rng.uniform(eda_low, eda_low + 3.0)),
        eda_phase=float(rng.uniform(0, 2 * np.pi)),
    )


class EventTrain:
    """An inhomogeneous Poisson process drawn by thinning, revealed in time order."""

    def __init__(self, rng: np.random.Generator, rate: Callable[[float], float], rate_max: float):
        self._rng = rng
        self._rate = rate
        self._rate_max = rate_max
        self._t = 0.0
        self._pending: tuple[float, float] | None = None

    def until(self, horizon: float) -> list[tuple[float, float]]:
        """(onset, amplitude) of each event with onset <= ``horizon`` not yet returned."""
        out: list[tuple[float, float]] = []
        while True:
            if self._pending is None:
                self._pending = self._draw()
            if self._pending[0] > horizon:
                return out
            out.append(self._pending)
            self._pending = None

    def _draw(self) -> tuple[float, float]:
        while True:
            self._t += self._rng.exponential(1.0 / self._rate_max)
            accept = self._rng.uniform() * self._rate_max < self._rate(self._t)
            amplitude = 0.15 + self._rng.exponential(0.35)
            if accept:
                return (self._t, min(amplitude, 2.0))


class Person:
    """The generator state of one person: beats and SCRs still in reach."""

    def __init__(self, seed: int, index: int, role: Role, schedule: DyadSchedule):
        self.role = role
        self.index = index
        self.schedule = schedule
        self.params = draw_person(np.random.default_rng([seed, index, 0]), role)
        self._beat_rng = np.random.default_rng([seed, index, 10])
        # (R time, scale of the waves) of beats that may still touch new samples
        self.beats: deque[tuple[float, float]] = deque()
        self._next_beat = -1.0 + float(self._beat_rng.uniform(0.0, 1.0))
        own_factor = schedule.follow_own_scr_factor if role == "therapist" else 1.0

        def scr_rate(tau: float) -> float:
            rate = schedule.scr_rate + schedule.arousal_scr_rate * float(schedule.arousal(role, tau))
            if role == "therapist" and schedule.following(tau - schedule.eda_lag):
                rate *= own_factor
            return rate

        rate_max = schedule.scr_rate + schedule.arousal_scr_rate
        self.own_scrs = EventTrain(np.random.default_rng([seed, index, 11]), scr_rate, rate_max)
        self.scrs: list[tuple[float, float]] = []  # (onset, amplitude), onset order
        self.coregulation: CoregulationDrive | None = None  # the patient's, set by the dyad
        self.tonic_wander = TonicWander(seed, index)

    def phase(self, tau: np.ndarray | float) -> np.ndarray:
        """Respiratory phase (radians) at session times ``tau``."""
        p = self.params
        a, b, _ = p.breath_phases
        tau = np.asarray(tau, dtype=float)
        w1, w2 = 2 * np.pi / 80.0, 2 * np.pi / 31.0
        cycles = (
            p.breath_rate * tau
            + 0.03 * (np.cos(a) - np.cos(w1 * tau + a)) / w1
            + 0.02 * (np.cos(b) - np.cos(w2 * tau + b)) / w2
        )
        return p.phase0 + 2 * np.pi * cycles

    def heart_rate(self, tau: float) -> float:
        """Heart rate (bpm) before respiratory modulation."""
        s = self.schedule
        return (
            self.params.hr0
            + 2.0 * math.sin(2 * math.pi * tau / 300.0 + self.params.hr_phase)
            + s.arousal_hr_increase * float(s.arousal(self.role, tau))
        )

    def beats_until(self, horizon: float) -> list[float]:
        """Generate beats up to ``horizon``; return the R times of the new ones."""
        new: list[float] = []
        while self._next_beat <= horizon:
            t = self._next_beat
            rsa = float(self.schedule.rsa_amplitude(self.role, t))
            ibi = 60.0 / self.heart_rate(t) - rsa * math.sin(float(self.phase(t)))
            ibi += float(self._beat_rng.normal(0.0, 0.006))
            self.beats.append((t, math.sqrt(ibi)))
            new.append(t)
            self._next_beat = t + ibi
        return new

    def ecg(self, tau: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """ECG (mV) at sample times ``tau``, given their white noise."""
        while self.beats and self.beats[0][0] < tau[0] - BEAT_REACH:
            self.beats.popleft()
        out = 0.08 * np.sin(self.phase(tau)) + noise
        for r_time, scale in self.beats:  # onset order keeps sums identical across chunkings
            if r_time >= tau[-1] + BEAT_REACH:
                break
            d = tau - r_time
            near = np.abs(d) < BEAT_REACH
            if not near.any():
                continue
            centre = d[near, None] - _WAVE_OFFSET * scale
            waves = _WAVE_AMPLITUDE * np.exp(-0.5 * (centre / (_WAVE_WIDTH * scale)) ** 2)
            out[near] += waves.sum(axis=1)
        return out

    def rsp(self, tau: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Respiratory belt stretch (a.u.) at ``tau``."""
        phi = self.phase(tau)
        depth = 1.0 + 0.25 * np.sin(2 * np.pi * tau / 47.0 + self.params.breath_phases[2])
        return 1.0 + depth * (-np.cos(phi) - 0.1 * np.cos(2 * phi)) + noise

    def tonic_deviation(self, tau: np.ndarray | float) -> np.ndarray:
        """Tonic EDA (µS) above the person's own level at ``tau``: slow drift, wander and arousal, no SCRs."""
        drift = 0.4 * np.sin(2 * np.pi * np.asarray(tau) / 420.0 + self.params.eda_phase)
        return drift + self.tonic_arousal(tau)

    def tonic_arousal(self, tau: np.ndarray | float) -> np.ndarray:
        """Tonic EDA (µS) above the person's slowly drifting level: the wander and arousal."""
        wander = self.tonic_wander.at(tau) if self.role == "therapist" else 0.0
        return wander + 0.5 * self.schedule.arousal(self.role, tau)

    def eda(self, tau: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """EDA (µS) over one second ``tau`` (blocks in order), from the SCRs already placed in ``self.scrs``."""
        self.scrs = [s for s in self.scrs if s[0] >= tau[0] - _SCR_REACH]
        out = self.params.eda_level + self.tonic_deviation(tau) + noise
        if self.coregulation is not None:
            out += self.coregulation.block(tau)
        for onset, amplitude in self.scrs:
            if onset > tau[-1]:
                break
            d = tau - onset
            active = (d >= 0) & (d < _SCR_REACH)
            if active.any():
                out[active] += amplitude * _scr_shape(d[active])
        return out


class TonicWander:
    """A slow, smooth random wander of tonic EDA (µS).

    An Ornstein–Uhlenbeck process (time constant 20 s, SD 0.5 µS) low-passed
    once more (time constant 3 s), so it has no fast changes of its own to
    blur the SCRs' synchrony. Stepped once per second of session time, each
    second's shock from its own generator (so every other draw of the
    simulation stays as it was), linear in between. The last ``KEEP_S``
    seconds are kept: the partner's coregulation asks ahead of this person's
    own EDA by as much as one read of the simulation spans.
    """

    TAU_S, SMOOTH_S, SD_US = 20.0, 3.0, 0.5
    KEEP_S = 900

    def __init__(self, seed: int, index: int):
        self._seed, self._index = seed, index
        self._drive = 0.0  # the OU process at the last second
        self._first, self._values = 0, np.zeros(1)  # the wander at seconds first, first + 1, ...

    def at(self, tau: np.ndarray | float) -> np.ndarray:
        """The wander at session times ``tau`` (no earlier than ``KEEP_S`` before the latest asked for)."""
        tau = np.asarray(tau, dtype=float)
        last = self._first + self._values.size - 1
        needed = math.floor(float(np.max(tau))) + 1
        if needed > last:
            self._values = np.concatenate([self._values, self._step(last, needed)])[-self.KEEP_S :]
            self._first = needed + 1 - self._values.size
        if float(np.min(tau)) < self._first:
            raise ValueError(f"the tonic wander keeps {self.KEEP_S} s; {float(np.min(tau)):.1f} s is gone")
        return np.interp(tau, self._first + np.arange(self._values.size), self._values)

    def _step(self, last: int, until: int) -> np.ndarray:
        """The wander at seconds ``last + 1`` … ``until``, stepped on from ``last``."""
        keep, y, out = math.exp(-1.0 / self.TAU_S), float(self._values[-1]), []
        for k in range(last, until):
            shock = np.random.default_rng([self._seed, self._index, 97, k + 1]).normal()
            y += (self._drive - y) / self.SMOOTH_S
            self._drive = keep * self._drive + math.sqrt(1.0 - keep * keep) * self.SD_US * shock
            out.append(y)
        return np.array(out)


def _scr_shape(x: np.ndarray | float) -> np.ndarray:
    """The Bateman SCR shape ``x`` seconds after onset, scaled to a peak of 1."""
    return (np.exp(-x / _SCR_DECAY) - np.exp(-x / _SCR_RISE)) / _SCR_PEAK


class CoregulationDrive:
    """The patient's coregulation component of tonic EDA, stepped once per second of session time.

    ``c(k + 1) = c(k) + (-c(k) / tau_c + kappa(k) * d(k)) * 1 s + N(0, noise)``, where ``d`` is
    the partner's :meth:`Person.tonic_deviation` and ``kappa`` the schedule's
    :meth:`~dyadscope.sensors.simulate.DyadSchedule.coupling`; the noise comes from its own
    generator per second, so every other random draw of the simulation stays as it was.
    Within a second ``c`` is interpolated linearly.
    """

    def __init__(self, seed: int, schedule: DyadSchedule, partner_deviation: Callable[[float], np.ndarray]):
        self._seed = seed
        self._schedule = schedule
        self._partner = partner_deviation
        self._c = 0.0  # at the start of the next second

    def block(self, tau: np.ndarray) -> np.ndarray:
        """The component (µS) over the second starting at ``tau[0]`` (the next one)."""
        s, start = self._schedule, float(tau[0])
        shock = np.random.default_rng([self._seed, 99, round(start)]).normal(0.0, s.coregulation_noise)
        drive = s.coupling(start) * float(self._partner(start))
        following = self._c + (drive - self._c / s.coregulation_tau) + shock
        values = self._c + (following - self._c) * (tau - start)
        self._c = following
        return values
