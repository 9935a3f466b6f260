"""Synchrony per modality, live: lagged cross-correlation, chance level, state, index, flags.

:class:`SynchronyProcessor` consumes the per-person feature series named in
:data:`~._grid.SOURCES`, brings each modality's pair onto its grid
(:mod:`._grid`) and, per modality, preprocesses both series
(:mod:`._preprocess`), keeps an incremental windowed lagged cross-correlation
(:mod:`._xcorr`), tests each window against surrogates of the same window
with each partner's own past (:mod:`._null`) and follows a hysteresis state,
flexibility, a session index and desynchrony flags (:mod:`._sync_state`).

Windows (Boker et al., 2002, and the synchrony literature it started) and
preprocessing (smoothing, first differences: :mod:`._preprocess`):

============== ====== ======== ========= ======== ========= =====================================
modality       grid   window   max lag   lag step before    why
============== ====== ======== ========= ======== ========= =====================================
eda (phasic)   4 Hz   45 s     ±4 s      0.25 s   1 s mean, an SCR lasts ~10 s and comes ~2/min:
                                                  Δ         45 s holds one in ~4 of 5 windows
heart_rate     1 Hz   15 s     ±5 s      1 s      Δ         15 s window (the project's brief);
                                                            beat-to-beat coupling shows in seconds
rsa            1 Hz   30 s     ±5 s      1 s      Δ         RSA is estimated over breaths
face_valence   5 Hz   10 s     ±3 s      0.2 s    0.4 s     facial mimicry follows within ~1–3 s
                                                  mean
vocal_arousal  1 Hz   60 s     ±10 s     1 s      —         held per utterance; needs several
                                                            turns and a turn's lag
movement       10 Hz  30 s     ±5 s      0.1 s    0.5 s     Ramseyer & Tschacher's motion-energy
                                                  mean      settings, rMEA's smoothing
============== ====== ======== ========= ======== ========= =====================================

(Δ: first differences.) The measure is the peak of ``|r|`` over the lags:
anti-phase coupling is synchrony too, and the event keeps the signed ``r``.
``increment_s`` is the window increment of those analyses (2 s for EDA, 10 s
for movement); live, a ``sync`` is reported every ``min(increment_s,
report_s)`` seconds (``report_s = 2``) of data, on the grid of its multiples
(a :class:`~.ticks.Ticker`), so the monitor is never more than 2 s old —
with a longer increment the reported windows simply overlap more.

Emitted features (``role`` None, ``t`` = time of the newest sample used):

* ``sync``: ``modality``, ``r`` (signed r at the peak of ``|r|``), ``abs_r``,
  ``z`` (Fisher z of r), ``lag_s`` (lag at the peak; positive = therapist
  follows patient), ``leader`` (``"patient"`` for a positive lag,
  ``"therapist"`` for a negative one, None at lag 0), ``at_edge`` (the peak
  lies at ±max lag; peak picking: :func:`~._xcorr.pick_peak`), ``window_s``,
  ``max_lag_s``, ``t_center`` (centre of the patient window), ``chance_r``
  (the surrogates' ``1 - alpha`` quantile), ``p`` (permutation p-value),
  ``above_chance`` (``abs_r > chance_r``), ``baseline_n`` (surrogates); the
  last four are None while the surrogates are too few.
* ``sync_state``: ``modality``, ``state`` (``"in_sync"``/``"out_of_sync"``),
  ``since`` (window-centre time the new state's condition began),
  ``previous``.
* ``sync_flexibility`` and ``sync_index`` every ``flexibility_every_s``:
  ``modality`` and the fields of :meth:`~._sync_state.FlexibilityTracker.summary`
  and :meth:`~._sync_state.SessionIndex.summary`.
* ``desync_flag``: ``modality``, ``since``, ``out_of_sync_s``, ``in_sync_s``
  (:class:`~._sync_state.DesyncFlagger`: only after a lost in-sync stretch).

Calibration, measured (``tests/test_dyadic_calibration.py``): see the README's
accuracy table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.base import FeatureProcessor
from dyadscope.stream.processors.dyadic._grid import SOURCES, FeatureSource, PairedGrid
from dyadscope.stream.processors.dyadic._null import PartnerHistoryNull
from dyadscope.stream.processors.dyadic._preprocess import Preprocessor
from dyadscope.stream.processors.dyadic._sync_state import (
    DesyncFlagger,
    FlexibilityTracker,
    SessionIndex,
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
    """Preprocessing, windowed lagged cross-correlation and chance settings of one modality (seconds)."""

    window_s: float
    max_lag_s: float
    lag_step_s: float
    increment_s: float = 2.0
    smooth_s: float = 0.0
    difference: bool = False
    peak: PeakMethod = "global"
    peak_span: int = 1
    state: StateConfig = StateConfig()
    history_s: float = 600.0
    alpha: float = 0.05


SYNC_DEFAULTS: dict[str, SyncConfig] = {
    "eda": SyncConfig(window_s=45.0, max_lag_s=4.0, lag_step_s=0.25, smooth_s=1.0, difference=True),
    "heart_rate": SyncConfig(window_s=15.0, max_lag_s=5.0, lag_step_s=1.0, difference=True),
    "rsa": SyncConfig(window_s=30.0, max_lag_s=5.0, lag_step_s=1.0, difference=True),
    "face_valence": SyncConfig(window_s=10.0, max_lag_s=3.0, lag_step_s=0.2, smooth_s=0.4),
    "vocal_arousal": SyncConfig(window_s=60.0, max_lag_s=10.0, lag_step_s=1.0),
    "movement": SyncConfig(window_s=30.0, max_lag_s=5.0, lag_step_s=0.1, increment_s=10.0, smooth_s=0.5),
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
    desync_min_in_sync_s: float = 30.0
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
        smooth = max(1, round(sync.smooth_s * rate_hz))
        self._prepare = [Preprocessor(smooth, sync.difference) for _ in range(2)]
        self.engine = LaggedCrossCorrelation(window, max_lag, step)
        history = round(sync.history_s * rate_hz)
        self.null = PartnerHistoryNull(window, max_lag, step, history, peak=sync.peak, peak_span=sync.peak_span)
        self._reports = Ticker(min(sync.increment_s, config.report_s))
        self.state = SyncStateTracker(sync.state)
        self.flexibility = FlexibilityTracker(config.flexibility_horizon_s)
        self.index = SessionIndex()
        self.desync = DesyncFlagger(config.desync_after_s, config.desync_every_s, config.desync_min_in_sync_s)
        self._flexibility_ticks = Ticker(config.flexibility_every_s)
        self._t0: float | None = None

    def extend(self, t0: float, x: np.ndarray, y: np.ndarray) -> list[Feature]:
        """Paired grid samples from time ``t0`` (patient ``x``, therapist ``y``); return features due."""
        if self._t0 is None:
            self._t0 = t0 - self.engine.total / self.rate
        # Grid times from the sample index, so the ticks fall alike however the samples come.
        times = (round(t0 * self.rate) + np.arange(x.size)) / self.rate
        x, y = self._prepare[0].apply(x), self._prepare[1].apply(y)
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
        self.null.extend(x, y)

    def _report(self) -> list[Feature]:
        r = self.engine.correlations()
        if r is None:
            return []
        index = pick_peak(np.abs(r), self._sync.peak, self._sync.peak_span)
        if index is None:
            return []
        t = self._t0 + (self.engine.total - 1) / self.rate
        centre = self._t0 + (self.engine.latest_start + (self._window - 1) / 2) / self.rate
        r_peak = float(r[index])
        lag_s = float(self.engine.lags[index]) / self.rate
        chance = self.null.chance()
        alpha = self._sync.alpha
        chance_r = None if chance is None else chance.level(1 - alpha)
        data = {
            "modality": self.modality,
            "r": r_peak,
            "abs_r": abs(r_peak),
            "z": fisher_z(r_peak),
            "lag_s": lag_s,
            "leader": "patient" if lag_s > 0 else "therapist" if lag_s < 0 else None,
            "at_edge": index in (0, r.size - 1),
            "window_s": self._window / self.rate,
            "max_lag_s": self._max_lag / self.rate,
            "t_center": centre,
            "chance_r": chance_r,
            "p": None if chance is None else chance.p_value(abs(r_peak)),
            "above_chance": None if chance_r is None else abs(r_peak) > chance_r,
            "baseline_n": 0 if chance is None else int(chance.surrogates.size),
        }
        levels = None if chance is None else (chance.level(self._sync.state.exit_quantile), chance_r)
        if chance is not None:
            self.index.add(abs(r_peak), chance.surrogates, data["above_chance"])
        return [Feature(kinds.SYNC, None, t, data), *self._follow_up(t, centre, abs(r_peak), levels)]

    def _follow_up(self, t: float, centre: float, abs_r: float, levels: tuple[float, float] | None) -> list[Feature]:
        """State transition, desynchrony flag and session summaries that this value makes due."""
        out = []
        self.flexibility.add(centre, fisher_z(abs_r))
        transition = self.state.update(centre, abs_r, levels)
        if transition is not None:
            self.flexibility.transition(centre)
            self.desync.transition(transition)
            state = {"state": transition.state, "since": transition.since, "previous": transition.previous}
            out.append(Feature(kinds.SYNC_STATE, None, t, {"modality": self.modality, **state}))
        flag = self.desync.check(centre)
        if flag is not None:
            out.append(Feature(kinds.DESYNC_FLAG, None, t, {"modality": self.modality, **flag}))
        self._flexibility_ticks.start(t)  # the first value begins the cadence, with no summary
        if self._flexibility_ticks.ready(t):
            self._flexibility_ticks.advance(t)
            summary = {"modality": self.modality, **self.flexibility.summary(centre)}
            out.append(Feature(kinds.SYNC_FLEXIBILITY, None, t, summary))
            out.append(Feature(kinds.SYNC_INDEX, None, t, {"modality": self.modality, **self.index.summary()}))
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
