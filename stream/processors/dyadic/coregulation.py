"""Coregulation of arousal: whether a person's next change depends on the partner's arousal, and which way.

For one person, over a rolling window of grid samples, the linear coupled
model of coregulation (Butler 2011, "Temporal interpersonal emotion systems",
PSPR 15:367; Butler & Randall 2013, Emotion Review 5:202; Reed et al. 2013,
Int J Psychophysiol 88:309) fitted as a lagged regression::

    y(t + h) − y(t) = α + β_self · (y(t) − b(t)) + β_partner · (y_partner(t) − b_partner(t)) + ε

``b`` is each person's own running baseline (an exponentially weighted mean,
time constant ``baseline_tau_s``), so both regressors are distances from one's
own baseline. ``β_partner`` is the coupling:

* ``"dampening"``: β_partner < 0 and significant — the partner's arousal above
  their baseline is followed by a fall of one's own (when both are raised, a
  pull back toward baseline: Butler's morphostatic coregulation);
* ``"amplification"``: β_partner > 0 and significant — it is followed by a
  further rise, away from baseline (co-escalation, morphogenic);
* ``"neutral"`` otherwise.

Significant means a p-value below ``alpha`` from
:func:`~._coupling_null.shifted_coupling`: the Newey–West t of β_partner
against the same regression with the partner's series taken 20, 40, ... 400 s
earlier (the partner's own dynamics kept, their timing relative to this person
broken). ``alpha`` is the stated false-positive rate, measured on pseudo-dyads
in tests/test_dyadic_coregulation.py. Until 19 shifts fit in the history kept
nothing is reported: the first estimate comes 502 s into a session (685 s
for vocal arousal). Cost: 21 three-column regressions per report (every
``report_s``), over the ``window + lag + history`` samples kept.

Measured in tests/test_dyadic_coregulation.py (figures in the README): the
planted stretches of the simulated dyad are found with their sign, and
pseudo-dyads say coupled at about the stated rate. A limit: when one person
strongly drives the other, the driver's own estimate can show a weaker
coupling back (a third to a half of the driver's reports for a planted
one-way coupling of 0.3 per second), so read the two directions together.

EDA enters as its tonic level (the 0.05 Hz low-pass of :mod:`..physio.eda`):
the SCRs of the total level are fast, large and the person's own, and would
swamp the slower change coregulation is about.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.dyadic._coupling_null import shifted_coupling
from dyadscope.stream.processors.dyadic._grid import SOURCES, FeatureSource, PairedGrid
from dyadscope.stream.processors.ticks import Ticker
from dyadscope.stream.types import ROLES, Feature


@dataclass(frozen=True)
class CoregulationConfig:
    """Rolling lagged regression settings for one arousal-like modality (times in seconds).

    The null takes the partner ``shift_s``, 2 ``shift_s``, ... up to ``history_s``
    earlier: spaced shifts, because the t statistics of shifts a second apart are
    nearly the same number, and a null of near-copies understates its own tail
    (dense shifts gave 6–8 % false couplings on pseudo-dyads where 5 % was
    meant). ``min_shifts`` of them must fit before anything is reported, so the
    first estimate comes ``window_s + lag_s + min_shifts · shift_s`` into the
    session. ``nw_lag_s`` is the Newey–West bandwidth. ``source`` overrides the
    modality's entry in the dyadic sources table.
    """

    lag_s: float = 2.0
    window_s: float = 120.0
    baseline_tau_s: float = 300.0
    rate_hz: float = 1.0
    report_s: float = 10.0
    min_rows: int = 30
    history_s: float = 400.0
    shift_s: float = 20.0
    min_shifts: int = 19
    nw_lag_s: float = 5.0
    alpha: float = 0.05
    source: FeatureSource | None = None

    def samples(self, seconds: float) -> int:
        """``seconds`` as a number of grid samples."""
        return round(seconds * self.rate_hz)


#: Arousal-like modalities and their defaults: tonic EDA and heart rate change within seconds;
#: vocal arousal changes only from utterance to utterance, so it gets a longer lag and window.
COREGULATION_DEFAULTS: dict[str, CoregulationConfig] = {
    "vocal_arousal": CoregulationConfig(lag_s=5.0, window_s=300.0),
    "eda_tonic": CoregulationConfig(source=FeatureSource(kinds.EDA, ("tonic_us",), rate_hz=4.0, max_gap_s=1.0)),
    "heart_rate": CoregulationConfig(),
}


class _Baseline:
    """An exponentially weighted running mean that skips missing samples; distance of each sample from it."""

    def __init__(self, alpha: float):
        self._alpha = alpha
        self._level = math.nan

    def distance(self, y: float) -> float:
        if math.isnan(self._level):
            self._level = y
        elif not math.isnan(y):
            self._level += self._alpha * (y - self._level)
        return y - self._level


class RollingCoregulation:
    """One person's rolling regression of next change on own and partner distance from baseline."""

    def __init__(self, config: CoregulationConfig):
        self.config = config
        self._lag, self._window = config.samples(config.lag_s), config.samples(config.window_s)
        self._shift = max(1, config.samples(config.shift_s))
        size = self._window + self._lag + config.samples(config.history_s)
        self._series = {name: deque(maxlen=size) for name in ("y", "own", "partner")}
        alpha = 1.0 - math.exp(-1.0 / (config.baseline_tau_s * config.rate_hz))
        self._baselines = (_Baseline(alpha), _Baseline(alpha))

    def extend(self, own: np.ndarray, partner: np.ndarray) -> None:
        """Append paired samples of this person and the partner (NaN = missing)."""
        for y, p in zip(own.tolist(), partner.tolist(), strict=True):
            self._series["y"].append(y)
            self._series["own"].append(self._baselines[0].distance(y))
            self._series["partner"].append(self._baselines[1].distance(p))

    def estimate(self) -> dict[str, float | int | str] | None:
        """Coefficients, the coupling's t and shift p-value, and the pattern; None when not yet testable."""
        config = self.config
        y = np.array(self._series["y"])
        last = y.size - self._lag  # rows 0 .. last-1 have a known change
        if last - self._window < config.min_shifts * self._shift:
            return None
        change = np.full(y.size, np.nan)
        change[:last] = y[self._lag :] - y[:last]
        rows = np.arange(last - self._window, last)
        shifts = np.arange(self._shift, rows[0] + 1, self._shift)
        own, partner = np.array(self._series["own"]), np.array(self._series["partner"])
        fit = shifted_coupling(change, own, partner, rows, shifts, config.samples(config.nw_lag_s), config.min_rows)
        if fit is None or fit["shifts"] < config.min_shifts:
            return None
        pattern = "neutral"
        if fit["p_value"] < config.alpha:
            pattern = "dampening" if fit["beta_partner"] < 0 else "amplification"
        return {**fit, "pattern": pattern}


class _ModalityCoregulation:
    def __init__(self, modality: str, source: FeatureSource, config: CoregulationConfig):
        self.modality = modality
        self.grid = PairedGrid(replace(source, rate_hz=config.rate_hz))
        self.people = {role: RollingCoregulation(config) for role in ROLES}
        self.config = config
        self.reports = Ticker(config.report_s)

    def consume(self, feature: Feature) -> list[Feature]:
        t0, patient, therapist = self.grid.add(feature)
        if not patient.size:
            return []
        self.people["patient"].extend(patient, therapist)
        self.people["therapist"].extend(therapist, patient)
        t = t0 + (patient.size - 1) / self.config.rate_hz
        self.reports.start(t)  # the first grid sample begins the cadence, with no report
        if not self.reports.ready(t):
            return []
        self.reports.advance(t)
        out = []
        for role, person in self.people.items():
            estimate = person.estimate()
            if estimate is not None:
                data = {"modality": self.modality, **estimate}
                data.update(lag_s=self.config.lag_s, window_s=self.config.window_s, alpha=self.config.alpha)
                out.append(Feature(kinds.COREGULATION, role, t, data))
        return out


class CoregulationProcessor:
    """Coregulation per arousal-like modality; emits ``coregulation`` per role every ``report_s`` of data."""

    def __init__(
        self,
        configs: dict[str, CoregulationConfig] | None = None,
        sources: dict[str, FeatureSource] | None = None,
    ):
        sources = SOURCES if sources is None else sources
        configs = COREGULATION_DEFAULTS if configs is None else configs
        self._modalities = [_ModalityCoregulation(m, c.source or sources[m], c) for m, c in configs.items()]
        self.consumes = frozenset(m.grid.source.kind for m in self._modalities)

    def consume(self, feature: Feature) -> list[Feature]:
        """Take one arousal-like feature; return any coregulation estimates now due."""
        out: list[Feature] = []
        for modality in self._modalities:
            if modality.grid.source.kind == feature.kind:
                out.extend(modality.consume(feature))
        return out
