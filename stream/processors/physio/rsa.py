"""Respiratory sinus arrhythmia (RSA), live, from R-peaks and breaths.

RSA is the respiratory rhythm in heart period: the heart slows during
exhalation and speeds up during inhalation, in proportion to vagal
(parasympathetic) activity. :class:`RSAProcessor` is a feature processor: it
consumes ``rpeak`` features (from any R-peak source), ``breath`` features
(from :mod:`.respiration`), and ``heart_rate`` and ``quality`` features (for
the quality of what it is computed from), and reports two documented
definitions, per person:

**Peak-to-trough** (``p2t_ms``, ``p2t_mean_ms``), exactly as NeuroKit2's
``hrv_rsa`` P2T: for each breath, the inhalation beats are the R-peaks in
``[onset, peak + 0.75 s)`` and the exhalation beats those in
``[peak, next onset + 0.75 s)``; the breath's RSA is the longest
inter-beat interval between exhalation beats minus the shortest between
inhalation beats (ms), 0 if negative, undefined if either phase has fewer
than two beats, or if one of its intervals is outside 300-2000 ms (a gap).
The beats are first corrected for extra, missed and misplaced beats
(:class:`~._beat_fix.BeatCorrector`, after Lipponen & Tarvainen 2019, three
beats late) instead of dropping breaths with a >30 % interval jump: on the
simulated rest with 5 extra, 5 missed and 5 moved (50-100 ms) beats planted,
the mean stays within 2 ms of the clean beats' (uncorrected: >10 ms off).
Note that NeuroKit2 0.2.13's
``hrv_rsa``, given R-peaks as the ``info`` dict of ``ecg_process`` (its own
example), turns them into intervals and back into peaks counted from 0, so
its beats sit earlier than the breaths by the time of the first R-peak (0.5 s
on ``bio_resting_5min_100hz``: 76.3 ms where the aligned beats give 75.1 ms);
we use the beats' true times. A breath is scored as soon as a beat past its
``next onset + 0.75 s`` arrives. ``p2t_mean_ms`` is the mean over the breaths
that began in the last ``p2t_window_s`` seconds (default 60 s).

**Spectral** (``spectral_ln``): ln of the power of the inter-beat-interval
(heart *period*) series in 0.12-0.40 Hz, in ln(ms²), over the last
``window_s`` seconds (default 60 s). Each new beat adds the 4 Hz samples of
the interpolated interval series (:class:`~._heart_period.IntervalSeries`, cubic Hermite) up
to the previous beat to a ring buffer (O(1) per beat); at each output (once
a second) a Welch spectrum (30 s Hann segments, half overlap, linear
detrend) of the ~240 buffered points is integrated over the band: O(window)
per output, but the window is 240 points, a fixed and tiny cost. Intervals outside 300-2000 ms are
artefacts: left out of the series (interpolated across) and counted.

*How this relates to NeuroKit2's "Porges-Bohrer" output*
(``RSA_PorgesBohrer``): NeuroKit2 0.3 computes it on heart **period** (ms,
from its ``ECG_Rate`` column), resampled at 2 Hz, detrended with a 21-point
cubic Savitzky-Golay filter, band-passed 0.12-0.40 Hz, cut into 30 s epochs,
and reports the mean of ln(variance) in ln(ms²), the unit of Porges and
Bohrer's original method (typical adult values 4-8 ln(ms²)). Ours is in the
same unit but over one causal sliding 60 s window, so the two agree in scale,
not sample by sample. NeuroKit2 releases before 0.3 computed it on heart
*rate* (ln(bpm² / 1000), negative values): those are not comparable, because
heart rate and heart period are reciprocal, not a rescaling of each other.

**Without a respiration stream** the spectral definition needs nothing more,
and peak-to-trough uses ECG-derived respiration (EDR) from the RSA band of
the interval series itself: the 4 Hz interval series is band-passed
0.12-0.40 Hz (causal Butterworth, order 2; its phase shift is zero at the
band's centre), and its maxima (longest heart period, end of exhalation)
and minima are taken as breath onsets and peaks by the same
:class:`~.respiration.BreathDetector` that reads the RSP stream. Such values
are ``"source": "edr"``; they hold only as long as breathing is in the band
and dominates heart-period variability, so prefer a respiration belt (on
NeuroKit2's example recordings the EDR mean is 10 % and 4 % below the
respiration-based reference). The
processor uses RSP breaths while one arrived in the last ``edr_after_s``
seconds, else EDR.

Output: ``Feature("rsa", role, t, {"p2t_ms", "p2t_breath_t", "p2t_mean_ms",
"breaths_scored", "p2t_breaths", "spectral_ln", "source", "window_s",
"reactivity_p2t_ms", "reactivity_spectral", "quality"})`` once per ``hop_s`` (1 s) of data per
person: on the first beat or heart-rate feature past each multiple of the
hop (a :class:`~.ticks.Ticker`), once a peak-to-trough or spectral value exists. ``p2t_ms`` is the
latest breath's value (``p2t_breath_t`` its onset), ``breaths_scored`` lists
``[onset_t, p2t_ms or None]`` of every breath scored since the previous
output (so per-breath values are never lost between outputs) and
``p2t_breaths`` counts the defined values in the mean. ``reactivity_*`` is
current minus resting once the person's ``baseline`` feature (from
:class:`~.baseline.Baseline`) has arrived, until a ``baseline_start``
restarts the phase (else None). ``quality`` is ``"poor"`` when the heart rate is poor, the
person's ECG stream (or, for ``"rsp"``, their RSP stream) has a poor
``quality`` status, more than ``artefact_max`` of the window's intervals are
artefacts, or the breath scored last came from poor respiration.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.physio._beat_fix import Beat, BeatCorrector
from dyadscope.stream.processors.physio._filters import StreamingSOSFilter
from dyadscope.stream.processors.physio._heart_period import RSA_BAND, IntervalSeries, band_power_ln
from dyadscope.stream.processors.physio.respiration import Breath, BreathDetector
from dyadscope.stream.processors.ticks import Ticker
from dyadscope.stream.ring import RingBuffer
from dyadscope.stream.types import ROLES, Feature, Role

#: Beats up to this long past a phase boundary still count for it (NeuroKit2's P2T).
PHASE_SLACK_S = 0.75
#: Plausible inter-beat intervals (ms); others are artefacts.
IBI_RANGE_MS = (300.0, 2000.0)


def breath_p2t(beats: Sequence[float], breath: Breath) -> float:
    """Peak-to-trough RSA of one breath (ms) from sorted beat times (s); NaN if undefined.

    NeuroKit2's ``hrv_rsa`` P2T: longest exhalation interval minus shortest
    inhalation interval, each phase extended by 0.75 s past its end;
    undefined if either phase has fewer than two beats, as in NeuroKit2, or
    if an interval of the breath (from the one ending at its first beat) is
    outside 300-2000 ms: a gap in the beats, not a heart period.
    """
    inh = _between(beats, breath.onset_t, breath.peak_t + PHASE_SLACK_S)
    exh = _between(beats, breath.peak_t, breath.next_onset_t + PHASE_SLACK_S)
    if len(inh) < 2 or len(exh) < 2:
        return math.nan
    first = max(0, bisect.bisect_left(beats, breath.onset_t) - 1)
    last = bisect.bisect_left(beats, breath.next_onset_t + PHASE_SLACK_S)
    ibis = np.diff(np.asarray(beats[first:last])) * 1000.0
    if ((ibis < IBI_RANGE_MS[0]) | (ibis > IBI_RANGE_MS[1])).any():
        return math.nan
    longest_exh = max(b - a for a, b in zip(exh[:-1], exh[1:]))
    shortest_inh = min(b - a for a, b in zip(inh[:-1], inh[1:]))
    return max(0.0, (longest_exh - shortest_inh) * 1000.0)


def _between(beats: Sequence[float], start: float, stop: float) -> Sequence[float]:
    return beats[bisect.bisect_left(beats, start) : bisect.bisect_left(beats, stop)]


@dataclass(slots=True)
class _Scored:
    onset_t: float
    value: float


class _PersonRSA:
    """One person's beats, interval series, breaths and RSA values."""

    def __init__(self, proc: RSAProcessor):
        self.proc = proc
        self.beats: list[float] = []  # final (corrected) beats
        self.corrector = BeatCorrector()
        self.latest_detected: float | None = None
        self.series = IntervalSeries(proc.config.resample_hz, proc.config.max_gap_s)
        self.ibis = RingBuffer(int(round(proc.config.window_s * proc.config.resample_hz)))
        self.artefacts: deque[tuple[float, bool]] = deque()
        self.edr_filter = StreamingSOSFilter.butter(proc.config.resample_hz, low=RSA_BAND[0], high=RSA_BAND[1])
        self.edr_detector = BreathDetector()
        self.pending: dict[str, deque[tuple[Breath, str]]] = {"rsp": deque(), "edr": deque()}
        self.scored: dict[str, deque[_Scored]] = {"rsp": deque(), "edr": deque()}
        self.scored_quality = {"rsp": "good", "edr": "good"}
        self.unreported: dict[str, list[_Scored]] = {"rsp": [], "edr": []}
        self.last_rsp_breath: float | None = None
        self.heart_quality = "good"
        self.stream_status: dict[str, str] = {}  # modality -> latest quality status
        self.resting: dict[str, float | None] = {}  # the baseline feature's data, once it came
        self.ticker = Ticker(proc.config.hop_s)

    # -- beats and the interval series -------------------------------------------------
    def beat(self, t: float, ibi_ms: float | None) -> None:
        """A detected beat: it goes through the corrector, which releases final beats two beats late."""
        if self.latest_detected is not None and t <= self.latest_detected:
            return
        self.latest_detected = t
        final = self.corrector.restart() if ibi_ms is None else []
        for beat in final + self.corrector.add(t):
            self._final_beat(beat)

    def _final_beat(self, beat: Beat) -> None:
        t = beat.t
        if self.beats and t <= self.beats[-1]:
            return
        previous = self.beats[-1] if self.beats else None
        self.beats.append(t)
        keep_s = self.proc.config.window_s + 60.0
        if len(self.beats) > 64 and self.beats[0] < t - 2 * keep_s:
            del self.beats[: bisect.bisect_left(self.beats, t - keep_s)]
        if previous is not None and beat.joined:
            ibi = (t - previous) * 1000.0
            artefact = not IBI_RANGE_MS[0] <= ibi <= IBI_RANGE_MS[1]
            self.artefacts.append((t, artefact or beat.corrected))
            while self.artefacts[0][0] < t - self.proc.config.window_s:
                self.artefacts.popleft()
            if not artefact:
                self._extend_series(t, ibi)
        self._score_pending(t)

    def _extend_series(self, t: float, ibi: float) -> None:
        """Add an interval: new 4 Hz samples go to the window and to ECG-derived respiration."""
        if not self.series.continues(t):
            self.ibis.clear()
            self.edr_filter.reset()
            self.edr_detector.reset()
        grid, values = self.series.add(t, ibi)
        if grid.shape[0]:
            self.ibis.extend(values)
            for breath in self.edr_detector.feed(grid, -self.edr_filter(values)):
                self.pending["edr"].append((breath, "good"))

    # -- breaths -----------------------------------------------------------------------
    def breath(self, breath: Breath, quality: str) -> None:
        self.last_rsp_breath = breath.next_onset_t
        pending = self.pending["rsp"]
        pending.append((breath, quality))
        while pending[0][0].next_onset_t < breath.next_onset_t - self.proc.config.window_s:
            pending.popleft()  # no beats came for it (no ECG): give up rather than pile up
        if self.beats:
            self._score_pending(self.beats[-1])

    def _score_pending(self, newest_beat: float) -> None:
        for source, pending in self.pending.items():
            while pending and pending[0][0].next_onset_t + PHASE_SLACK_S <= newest_beat:
                breath, quality = pending.popleft()
                scored = _Scored(breath.onset_t, breath_p2t(self.beats, breath))
                self.scored[source].append(scored)
                self.unreported[source].append(scored)
                self.scored_quality[source] = quality
                horizon = breath.onset_t - self.proc.config.p2t_window_s
                while self.scored[source][0].onset_t < horizon:
                    self.scored[source].popleft()

    # -- output ------------------------------------------------------------------------
    def source(self, now: float) -> str:
        recent = self.last_rsp_breath is not None and now - self.last_rsp_breath <= self.proc.config.edr_after_s
        return "rsp" if recent else "edr"

    def rsa(self, role: Role | None, now: float) -> Feature | None:
        proc = self.proc
        source = self.source(now)
        scored = self.scored[source]
        while scored and scored[0].onset_t < now - proc.config.p2t_window_s:
            scored.popleft()
        values = [s.value for s in scored if not math.isnan(s.value)]
        enough_series = len(self.ibis) >= proc.config.min_coverage * self.ibis.capacity
        spectral = band_power_ln(self.ibis.latest(), proc.config.resample_hz) if enough_series else None
        if spectral is not None and math.isnan(spectral):
            spectral = None
        if not values and spectral is None:
            return None
        self.ticker.advance(now)
        latest = scored[-1] if scored else None
        newly = [[b.onset_t, None if math.isnan(b.value) else b.value] for b in self.unreported[source]]
        for waiting in self.unreported.values():
            waiting.clear()
        p2t = None if latest is None or math.isnan(latest.value) else latest.value
        p2t_mean = float(np.mean(values)) if values else None
        artefact_share = sum(a for _, a in self.artefacts) / len(self.artefacts) if self.artefacts else 0.0
        poor = (
            self.heart_quality != "good"
            or self.stream_status.get("ECG") == "poor"
            or (source == "rsp" and self.stream_status.get("RSP") == "poor")
            or artefact_share > proc.config.artefact_max
            or (bool(values) and self.scored_quality[source] != "good")
        )
        rest_p2t, rest_spectral = self.resting.get("rsa_p2t_ms"), self.resting.get("rsa_spectral_ln")
        return Feature(
            kinds.RSA,
            role,
            now,
            {
                "p2t_ms": p2t,
                "p2t_breath_t": None if latest is None else latest.onset_t,
                "p2t_mean_ms": p2t_mean,
                "breaths_scored": newly,
                "p2t_breaths": len(values),
                "spectral_ln": spectral,
                "source": source,
                "window_s": proc.config.window_s,
                "reactivity_p2t_ms": _difference(p2t_mean, rest_p2t),
                "reactivity_spectral": _difference(spectral, rest_spectral),
                "quality": "poor" if poor else "good",
            },
        )


def _difference(current: float | None, resting: float | None) -> float | None:
    return None if current is None or resting is None else current - resting


@dataclass(frozen=True)
class RSAConfig:
    """RSA windows and cadence (s), interval resampling (Hz), source switch and what makes it poor."""

    window_s: float = 60.0
    p2t_window_s: float = 60.0
    hop_s: float = 1.0
    resample_hz: float = 4.0
    edr_after_s: float = 30.0
    max_gap_s: float = 3.0
    min_coverage: float = 0.75
    artefact_max: float = 0.1


class RSAProcessor:
    """Peak-to-trough and spectral RSA per person, from ``rpeak`` and ``breath`` features.

    ``window_s`` is the spectral window, ``p2t_window_s`` the window of the
    mean peak-to-trough, ``hop_s`` the output interval (:class:`RSAConfig`);
    a ``baseline`` feature adds reactivity to the person's values from then on.
    """

    consumes = frozenset(
        {kinds.RPEAK, kinds.BREATH, kinds.HEART_RATE, kinds.QUALITY, kinds.BASELINE, kinds.BASELINE_START}
    )

    def __init__(self, config: RSAConfig = RSAConfig()):
        self.config = config
        self._people: dict[Role | None, _PersonRSA] = {}

    def consume(self, feature: Feature) -> list[Feature]:
        """Take one beat, breath or heart rate; return an ``rsa`` feature if one is due."""
        if feature.kind == kinds.BASELINE_START:
            for role in feature.data.get("roles") or ROLES:
                self._person(role).resting = {}
            return []
        person = self._person(feature.role)
        data = feature.data
        if feature.kind == kinds.BASELINE:
            person.resting = dict(data)
            return []
        if feature.kind == kinds.BREATH:
            depth = data.get("depth", math.nan)
            breath = Breath(data["onset_t"], data["peak_t"], data["next_onset_t"], depth, feature.t)
            person.breath(breath, data.get("quality", "good"))
            return []
        if feature.kind == kinds.RPEAK:
            person.beat(feature.t, data.get("ibi_ms"))
        elif feature.kind == kinds.HEART_RATE:
            person.heart_quality = data.get("quality", "good")
        elif feature.kind == kinds.QUALITY:
            person.stream_status[data.get("modality", "")] = data.get("status", "good")
            return []
        if not person.ticker.ready(feature.t):
            return []
        rsa = person.rsa(feature.role, feature.t)
        return [] if rsa is None else [rsa]

    def _person(self, role: Role | None) -> _PersonRSA:
        person = self._people.get(role)
        if person is None:
            person = self._people[role] = _PersonRSA(self)
        return person
