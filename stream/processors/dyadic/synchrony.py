"""Synchrony per modality, live: lagged cross-correlation, chance level, state, flexibility, flags.

:class:`SynchronyProcessor` consumes the per-person feature series named in
:data:`~._grid.SOURCES`, brings each modality's pair onto its grid
(:mod:`.grid`) and, per modality, keeps an incremental windowed lagged
cross-correlation (:mod:`.synchrony`), a time-shifted surrogate baseline
(:mod:`._surrogates`), a hysteresis state and flexibility (:mod:`._sync_state`).

Windows (Boker et al., 2002, and the synchrony literature it started):

============== ====== ======== ========= ========= ===============================================
modality       grid   window   max lag   lag step  why
============== ====== ======== ========= ========= ===============================================
eda (phasic)   4 Hz   8 s      ±4 s      0.25 s    phasic responses last seconds; 8 s / ±4 s / 2 s
heart_rate     1 Hz   15 s     ±5 s      1 s       15 s window (the project's brief); beat-to-beat
                                                   coupling shows within a few seconds
rsa            1 Hz   30 s     ±5 s      1 s       RSA is estimated over breaths: slower, noisier
face_valence   5 Hz   10 s     ±3 s      0.2 s     facial mimicry follows within ~1–3 s
vocal_arousal  1 Hz   60 s     ±10 s     1 s       held per utterance; needs several turns and a
                                                   turn's lag
movement       10 Hz  30 s     ±5 s      0.1 s     Ramseyer & Tschacher's motion-energy settings
============== ====== ======== ========= ========= ===============================================

``increment_s`` is the window increment of those analyses (2 s for EDA, 10 s
for movement); live, a ``sync`` is reported every ``min(increment_s,
report_s)`` seconds (``report_s = 2``) of data, on the grid of its multiples
(a :class:`~.ticks.Ticker`), so the monitor is never more than 2 s old —
with a longer increment the reported windows simply overlap more.

Emitted features (``role`` None, ``t`` = time of the newest sample used):

* ``sync``: ``modality``, ``r`` (peak r), ``z`` (Fisher z), ``lag_s`` (lag at
  the peak; positive = therapist follows patient), ``leader`` (``"patient"``
  for a positive lag, ``"therapist"`` for a negative one, None at lag 0),
  ``at_edge`` (the peak lies at ±max lag, so the true peak may lie beyond;
  peak picking: :func:`~._xcorr.pick_peak`), ``window_s``, ``max_lag_s``,
  ``t_center`` (centre of the patient window), ``chance_r`` (surrogate
  quantile, None while the baseline fills), ``above_chance`` (``r >
  chance_r``; None while the baseline fills), ``baseline_n``.
* ``sync_state``: ``modality``, ``state`` (``"in_sync"``/``"out_of_sync"``),
  ``since`` (window-centre time the new state's condition began),
  ``previous``.
* ``sync_flexibility`` every ``flexibility_every_s``: ``modality`` and the
  fields of :meth:`~._sync_state.FlexibilityTracker.summary`.
* ``desync_flag``: ``modality``, ``since``, ``out_of_sync_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.base import FeatureProcessor
from dyadscope.stream.processors.dyadic._grid import SOURCES, FeatureSource, PairedGrid
from dyadscope.stream.processors.dyadic._surrogates import SurrogateBaseline
from dyadscope.stream.processors.dyadic._sync_state import (
    DesyncFlagger,
    FlexibilityTracker,
    StateConfig,
    SyncStateTracker,
)
from dyadscope.stream.processors.dyadic._xcorr import LaggedCrossCorrelation, PeakMethod, fisher_z, pick_peak
from dyadscope.stream.processors.dyadic.concordance import ConcordanceConfig, ConcordanceProcessor
from dyadscope.stream.processors.dyadic.coregulation import (
    COREGULATION_DEFAULTS,
    CoregulationConfig,
    CoregulationProcessor,
)
from dyadscope.stream.processors.dyadic.dissonance import DissonanceConfig, DissonanceProcessor
from dyadscope.stream.processors.ticks import Ticker
from dyadscope.stream.types import Feature


@dataclass(frozen=True)
class SyncConfig:
    """Windowed lagged cross-correlation settings of one modality (seconds)."""

    window_s: float
    max_lag_s: float
    lag_step_s: float
    increment_s: float = 2.0
    peak: PeakMethod = "global"
    peak_span: int = 1
    state: StateConfig = StateConfig()
    surrogate_size: int = 200
    surrogate_quantile: float = 0.95


SYNC_DEFAULTS: dict[str, SyncConfig] = {
    "eda": SyncConfig(window_s=8.0, max_lag_s=4.0, lag_step_s=0.25),
    "heart_rate": SyncConfig(window_s=15.0, max_lag_s=5.0, lag_step_s=1.0),
    "rsa": SyncConfig(window_s=30.0, max_lag_s=5.0, lag_step_s=1.0),
    "face_valence": SyncConfig(window_s=10.0, max_lag_s=3.0, lag_step_s=0.2),
    "vocal_arousal": SyncConfig(window_s=60.0, max_lag_s=10.0, lag_step_s=1.0),
    "movement": SyncConfig(window_s=30.0, max_lag_s=5.0, lag_step_s=0.1, increment_s=10.0),
}


@dataclass(frozen=True)
class DyadicConfig:
    """Everything the dyadic processors need; the defaults are the documented ones."""

    sources: dict[str, FeatureSource] = field(default_factory=lambda: dict(SOURCES))
    sync: dict[str, SyncConfig] = field(default_factory=lambda: dict(SYNC_DEFAULTS))
    report_s: float = 2.0
    flexibility_every_s: float = 30.0
    flexibility_horizon_s: float = 300.0
    desync_after_s: float = 120.0
    desync_every_s: float = 600.0
    coregulation: dict[str, CoregulationConfig] = field(default_factory=lambda: dict(COREGULATION_DEFAULTS))
    concordance: ConcordanceConfig | None = ConcordanceConfig()
    dissonance: DissonanceConfig | None = DissonanceConfig()


class ModalitySynchrony:
    """Synchrony of one modality, from paired grid samples to sync features."""

    def __init__(self, modality: str, rate_hz: float, sync: SyncConfig, config: DyadicConfig = DyadicConfig()):
        self.modality = modality
        self.rate = rate_hz
        step = max(1, round(sync.lag_step_s * rate_hz))
        max_lag = step * round(sync.max_lag_s * rate_hz / step)
        window = round(sync.window_s * rate_hz)
        self._sync = sync
        self._window, self._max_lag = window, max_lag
        self.engine = LaggedCrossCorrelation(window, max_lag, step)
        shift = 2 * (window + 2 * max_lag)
        self.baseline = SurrogateBaseline(
            window,
            max_lag,
            step,
            (shift,),
            peak=sync.peak,
            peak_span=sync.peak_span,
            size=sync.surrogate_size,
            quantile=sync.surrogate_quantile,
        )
        self._reports = Ticker(min(sync.increment_s, config.report_s))
        self.state = SyncStateTracker(sync.state)
        self.flexibility = FlexibilityTracker(config.flexibility_horizon_s)
        self.desync = DesyncFlagger(config.desync_after_s, config.desync_every_s)
        self._flexibility_ticks = Ticker(config.flexibility_every_s)
        self._t0: float | None = None

    def extend(self, t0: float, x: np.ndarray, y: np.ndarray) -> list[Feature]:
        """Paired grid samples from time ``t0`` (patient ``x``, therapist ``y``); return features due."""
        if self._t0 is None:
            self._t0 = t0 - self.engine.total / self.rate
        # Grid times from the sample index, so the ticks fall alike however the samples come.
        times = (round(t0 * self.rate) + np.arange(x.size)) / self.rate
        out: list[Feature] = []
        start = 0
        for tick in self._reports.due(times):
            self._add(x[start : tick + 1], y[start : tick + 1])
            start = tick + 1
            out.extend(self._report())
        self._add(x[start:], y[start:])
        return out

    def _add(self, x: np.ndarray, y: np.ndarray) -> None:
        self.engine.extend(x, y)
        self.baseline.extend(x, y)

    def _report(self) -> list[Feature]:
        r = self.engine.correlations()
        self.baseline.update()
        if r is None:
            return []
        index = pick_peak(r, self._sync.peak, self._sync.peak_span)
        if index is None:
            return []
        t = self._t0 + (self.engine.total - 1) / self.rate
        centre = self._t0 + (self.engine.latest_start + (self._window - 1) / 2) / self.rate
        r_peak = float(r[index])
        lag_s = float(self.engine.lags[index]) / self.rate
        chance = self.baseline.chance_r()
        above = None if chance is None else r_peak > chance
        data = {
            "modality": self.modality,
            "r": r_peak,
            "z": fisher_z(r_peak),
            "lag_s": lag_s,
            "leader": "patient" if lag_s > 0 else "therapist" if lag_s < 0 else None,
            "at_edge": index in (0, r.size - 1),
            "window_s": self._window / self.rate,
            "max_lag_s": self._max_lag / self.rate,
            "t_center": centre,
            "chance_r": chance,
            "above_chance": above,
            "baseline_n": self.baseline.count,
        }
        exit_level = self.baseline.quantile(self._sync.state.exit_quantile)
        levels = None if chance is None or exit_level is None else (exit_level, chance)
        return [Feature(kinds.SYNC, None, t, data), *self._follow_up(t, centre, data["z"], r_peak, levels)]

    def _follow_up(
        self, t: float, centre: float, z: float, r: float, levels: tuple[float, float] | None
    ) -> list[Feature]:
        """State transition, desynchrony flag and flexibility summary that this value makes due."""
        out = []
        self.flexibility.add(centre, z)
        transition = self.state.update(centre, r, levels)
        if transition is not None:
            self.flexibility.transition(centre)
            state = {"state": transition.state, "since": transition.since, "previous": transition.previous}
            out.append(Feature(kinds.SYNC_STATE, None, t, {"modality": self.modality, **state}))
        out_for = self.desync.check(centre, self.state.state, self.state.since)
        if out_for is not None:
            flag = {"modality": self.modality, "since": self.state.since, "out_of_sync_s": out_for}
            out.append(Feature(kinds.DESYNC_FLAG, None, t, flag))
        self._flexibility_ticks.start(t)  # the first value begins the cadence, with no summary
        if self._flexibility_ticks.ready(t):
            self._flexibility_ticks.advance(t)
            summary = {"modality": self.modality, **self.flexibility.summary(centre)}
            out.append(Feature(kinds.SYNC_FLEXIBILITY, None, t, summary))
        return out


class SynchronyProcessor:
    """Synchrony for every configured modality both people have."""

    def __init__(self, config: DyadicConfig = DyadicConfig()):
        self._modalities = []
        for modality, sync in config.sync.items():
            source = config.sources[modality]
            pipeline = ModalitySynchrony(modality, source.rate_hz, sync, config)
            self._modalities.append((PairedGrid(source), pipeline))
        self.consumes = frozenset(grid.source.kind for grid, _ in self._modalities)

    def consume(self, feature: Feature) -> list[Feature]:
        """Take one per-person feature; return the synchrony features it completes."""
        out: list[Feature] = []
        for grid, pipeline in self._modalities:
            if grid.source.kind == feature.kind:
                t0, x, y = grid.add(feature)
                if x.size:
                    out.extend(pipeline.extend(t0, x, y))
        return out


def dyadic_processors(config: DyadicConfig = DyadicConfig()) -> list[FeatureProcessor]:
    """Every dyadic feature processor, ready for :class:`~dyadscope.stream.pipeline.Pipeline`."""
    processors: list[FeatureProcessor] = [SynchronyProcessor(config)]
    if config.coregulation:
        processors.append(CoregulationProcessor(config.coregulation, config.sources))
    if config.concordance is not None:
        processors.append(ConcordanceProcessor(config.concordance, config.sources))
    if config.dissonance is not None:
        processors.append(DissonanceProcessor(config.dissonance))
    return processors
