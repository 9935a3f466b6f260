"""Beat-by-beat correction of an R-peak series for extra, missed and misplaced beats.

One wrong beat moves peak-to-trough RSA by hundreds of milliseconds: the
interval series must be corrected before it is read, as HRV tools do
(Lipponen & Tarvainen 2019, the method of Kubios HRV and of NeuroKit2's
``signal_fixpeaks(method="Kubios")``). :class:`BeatCorrector` does it causally,
deciding each beat once the three after it have arrived, against statistics
of the beats already decided (never of the future):

* ``med``: the median of the last :data:`MEDIAN_BEATS` intervals, and ``th``:
  :data:`ALPHA` times the quartile deviation of ``|interval - med|`` over the
  last :data:`MEMORY` beats (Lipponen & Tarvainen's threshold 2), at least
  :data:`MIN_TOLERANCE` x ``med`` (the causal median lags a change of rate);
* **extra** beat -- the intervals before and after it add up to ``med``
  within ``th`` and the first is shorter than ``med - th``: the beat is
  dropped (the two short intervals merge);
* **missed** beat(s) -- an interval longer than ``med + th`` that is ``k``
  (2 or 3) usual intervals within ``th``: ``k - 1`` beats are inserted,
  evenly spaced (the long interval is split);
* **misplaced** beat -- its two intervals ``a``, ``b`` deviate in opposite
  directions from the straight line through the intervals around them:
  ``shift = ((b - a) - (next - previous) / 3) / 2`` (in ms; zero for any
  linear trend, plus or minus the displacement for a displaced beat). When
  ``|shift|`` exceeds :data:`SHIFT_SIGMAS` robust standard deviations of the
  shifts of the last :data:`MEMORY` beats (1.4826 x their median
  ``|shift|``), :data:`MIN_SHIFT_MS`, and the next beat's ``|shift|`` (a
  displaced neighbour shows 2/3 of its displacement here), and the intervals
  around and the mean of ``a`` and ``b`` are ordinary (within ``th`` of
  ``med``), the beat moves by ``shift``: the two intervals keep their sum
  and take the local trend. (NeuroKit2 moves it to the midpoint, which
  flattens the trend.)

Until :data:`MIN_INTERVALS` intervals are known, beats pass unchanged. A
gap (:meth:`BeatCorrector.restart`) passes the beats still waiting
unchanged; no interval spans it. Memory is :data:`MEMORY` beats.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import numpy as np

#: Intervals whose median is the usual interval (Lipponen & Tarvainen's medfilt order) ...
MEDIAN_BEATS = 11
#: ... and how many must be known before beats are judged at all.
MIN_INTERVALS = 5
#: Beats whose statistics set the thresholds (Lipponen & Tarvainen's window).
MEMORY = 91
#: Multiple of the quartile deviation that makes an interval unusual (Lipponen & Tarvainen).
ALPHA = 5.2
#: ... but at least this fraction of the usual interval: the causal median lags a change of rate.
MIN_TOLERANCE = 0.2
#: A beat is misplaced when its shift exceeds this many robust standard deviations of recent shifts.
SHIFT_SIGMAS = 4.0
#: ... and at least this many ms: finer shifts are within R-peak timing precision.
MIN_SHIFT_MS = 10.0
#: Most beats that one long interval may have missed.
MAX_MISSED = 2


class Beat(NamedTuple):
    """A final beat: its time (s), whether an interval ends at it, whether it was corrected."""

    t: float
    joined: bool
    corrected: bool


class BeatCorrector:
    """Corrects beat times (s) one by one, three beats late; counts what it corrected.

    :meth:`add` takes a detected beat and returns the corrected beats that
    became final, each as ``(t, joined, corrected)``: ``joined`` is False for
    the first beat after a start or a gap (no interval ends there);
    ``corrected`` marks an inserted or moved beat, or the beat after a
    dropped one.
    """

    def __init__(self):
        self._waiting: list[float] = []
        self._final: deque[float] = deque(maxlen=2)  # the last final beats since the last gap
        self._intervals: deque[float] = deque(maxlen=MEDIAN_BEATS)  # ms
        self._deviations: deque[float] = deque(maxlen=MEMORY)  # |interval - med|, ms
        self._shifts: deque[float] = deque(maxlen=MEMORY)  # |shift|, ms
        self._dropped = False  # the next final beat ends a merged interval
        self.counts = {"extra": 0, "missed": 0, "misplaced": 0}

    def restart(self) -> list[Beat]:
        """A gap: release the waiting beats unchanged; the next beat starts a new series."""
        out = [self._finish(t) for t in self._waiting]
        self._waiting.clear()
        self._final.clear()
        return out

    def add(self, t: float) -> list[Beat]:
        """Take the next detected beat; return the beats that became final."""
        self._waiting.append(t)
        out: list[Beat] = []
        while len(self._waiting) >= 4:
            out.extend(self._decide())
        return out

    def _decide(self) -> list[Beat]:
        """Settle the oldest waiting beat: drop it, insert beats before it, move it, or keep it."""
        beat = self._waiting[0]
        if len(self._final) < 2 or len(self._intervals) < MIN_INTERVALS:
            return [self._finish(self._waiting.pop(0))]
        med = float(np.median(self._intervals))
        th = max(ALPHA * _quartile_deviation(self._deviations), MIN_TOLERANCE * med)
        last = self._final[-1]
        a, b = (beat - last) * 1000.0, (self._waiting[1] - beat) * 1000.0
        if a < med - th and abs(a + b - med) < th:
            self.counts["extra"] += 1
            self._waiting.pop(0)
            self._dropped = True
            return []
        k = int(round(a / med))
        if a > med + th and 2 <= k <= MAX_MISSED + 1 and abs(a / k - med) < th:
            self.counts["missed"] += k - 1
            return [self._finish(last + (beat - last) * i / k, corrected=True) for i in range(1, k)]
        around = [self._final[-2], last, *self._waiting[:4]]
        shift, shift_next = _shift(around[:5]), _shift(around[1:])
        self._waiting.pop(0)
        intervals = np.diff(around[:5]) * 1000.0
        ordinary = bool(np.all(np.abs(intervals[[0, 3]] - med) < th)) and abs((a + b) / 2.0 - med) < th
        spread = 1.4826 * float(np.median(self._shifts)) if self._shifts else np.inf
        if ordinary and abs(shift) > max(SHIFT_SIGMAS * spread, MIN_SHIFT_MS, abs(shift_next)):
            self.counts["misplaced"] += 1
            return [self._finish(beat + shift / 1000.0, corrected=True)]
        self._shifts.append(abs(shift))
        return [self._finish(beat)]

    def _finish(self, t: float, corrected: bool = False) -> Beat:
        """Make ``t`` final: its interval joins the statistics."""
        joined = bool(self._final)
        if joined:
            interval = (t - self._final[-1]) * 1000.0
            if self._intervals:
                self._deviations.append(abs(interval - float(np.median(self._intervals))))
            self._intervals.append(interval)
        self._final.append(t)
        corrected, self._dropped = corrected or self._dropped, False
        return Beat(t, joined, corrected)


def _quartile_deviation(values: deque[float]) -> float:
    """Half the interquartile range of ``values``."""
    q1, q3 = np.percentile(np.asarray(values), [25.0, 75.0])
    return float(q3 - q1) / 2.0


def _shift(times: list[float]) -> float:
    """How far (ms) the middle of five beat times sits from where the straight-line trend of intervals puts it."""
    previous, a, b, after = np.diff(times) * 1000.0
    return ((b - a) - (after - previous) / 3.0) / 2.0
