"""Compiled kernels of the incremental lagged cross-correlation: one call per hop.

Why compiled: at live sizes (windows of tens to hundreds of samples, tens to
hundreds of lags, a few samples per hop) a hop is thousands of
multiply-adds, microseconds of arithmetic; done as a dozen or more numpy
calls it paid ~25 µs of fixed per-call overhead, so the overhead, not the
arithmetic, set the cost. These numba kernels do the whole hop in one call
(two with the samples' arrival) on preallocated arrays owned by
:class:`~._xcorr.LaggedCrossCorrelation`, which documents the method.

Each kernel has one explicit signature (float64 samples, int64 state): it is
compiled once, when this module is first imported on a machine, and loaded
from numba's on-disk cache (``cache=True``) afterwards; no call ever compiles.
``nogil=True`` lets other threads run while a kernel does.

Array layouts shared with the engine:

* ``samples``: ``(2, capacity)`` — patient row 0, therapist row 1; column
  ``c`` holds absolute sample index ``base + c``.
* ``state`` (int64): see the ``TOTAL`` … ``LAST_MISSING`` indices.
* ``config`` (int64): see the ``WINDOW`` … ``RETAIN`` indices.
* ``centre``: ``[cx, cy]``, the values the sums are taken about.
* ``sxy``: ``Σ (x - cx)(y_τ - cy)`` per lag, the one running sum.
* ``blocks``, ``spans``: a ring of the ``sxy`` contributions of the blocks
  of samples that entered the patient window, with each block's (first
  sample, count), so that a block leaving is subtracted exactly as it was
  added, without computing it again.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# state: samples received, absolute index of column 0, patient-window start the
# running Σxy describe (-1: none), samples advanced since the last exact
# recomputation, absolute index of the newest missing sample (-1: none), ring
# slot of the oldest entered block, blocks held.
TOTAL, BASE, START, SINCE_REFRESH, LAST_MISSING, OLDEST_BLOCK, BLOCKS = range(7)
# config: window, first lag, lag step, number of lags, samples reached before /
# after the patient window, refresh period, samples kept when the buffer is compacted.
WINDOW, FIRST_LAG, LAG_STEP, LAGS, BEFORE, AFTER, REFRESH_AFTER, RETAIN = range(8)
#: What :func:`correlate` found: r written, too few samples yet, a missing sample in the span.
READY, TOO_FEW, MISSING = 0, 1, 2

#: A window whose variance is at most this fraction of its sum of squares is flat: r is undefined.
FLAT = 1e-9

_KERNEL = {"cache": True, "nogil": True}


def new_config(
    *, window: int, first_lag: int, lag_step: int, lags: int, before: int, after: int, refresh_after: int, retain: int
) -> np.ndarray:
    """An engine's int64 ``config``, in the order of the ``WINDOW`` … ``RETAIN`` indices."""
    return np.array([window, first_lag, lag_step, lags, before, after, refresh_after, retain], dtype=np.int64)


def new_state() -> np.ndarray:
    """An engine's int64 ``state`` before any sample: no window summed, nothing missing."""
    state = np.zeros(7, dtype=np.int64)
    state[START] = state[LAST_MISSING] = -1
    return state


@njit("void(float64[:, ::1], int64[::1], int64[::1], float64[:], float64[:])", **_KERNEL)
def append_pairs(samples, state, config, x, y):
    """Append paired samples, noting the newest missing one; compact the buffer when it is full.

    Compaction keeps the newest ``config[RETAIN]`` samples (at least one
    span, so the newest window is always held) and is needed only once per
    ``capacity - RETAIN`` samples.
    """
    n = x.size
    total, base = state[TOTAL], state[BASE]
    for i in range(n):
        if not (math.isfinite(x[i]) and math.isfinite(y[i])):
            state[LAST_MISSING] = total + i
    capacity = samples.shape[1]
    held = total - base
    if n >= capacity:  # only the newest `capacity` samples can be kept
        x, y = x[n - capacity :], y[n - capacity :]
        held, base = 0, total + n - capacity
    elif held + n > capacity:
        keep = min(held, capacity - n, config[RETAIN])
        drop = held - keep
        for row in range(2):
            for c in range(keep):
                samples[row, c] = samples[row, drop + c]
        held, base = keep, base + drop
    for i in range(x.size):
        samples[0, held + i] = x[i]
        samples[1, held + i] = y[i]
    state[TOTAL] = total + n
    state[BASE] = base


@njit("void(float64[:, ::1], int64, int64, int64, int64, int64, float64, float64, float64, float64[::1])", **_KERNEL)
def _add_products(samples, base, first, count, lag0, step, cx, cy, sign, sxy):
    """``sxy[k] += sign · Σ (x_i - cx)(y_{i + lag0 + k·step} - cy)``, patient samples ``first .. first + count``."""
    xs, ys = samples[0], samples[1]
    for i in range(first - base, first - base + count):
        xi = sign * (xs[i] - cx)
        j = i + lag0
        if step == 1:  # contiguous lagged samples (every default): the loop vectorises
            lagged = ys[j : j + sxy.size]
            for k in range(sxy.size):
                sxy[k] += xi * (lagged[k] - cy)
        else:
            for k in range(sxy.size):
                sxy[k] += xi * (ys[j + k * step] - cy)


@njit("void(float64[:, ::1], int64[::1], int64[::1], float64[::1], float64[::1], int64)", **_KERNEL)
def _recompute(samples, state, config, centre, sxy, a):
    """Exact Σxy for the window starting at ``a``, about the means of its patient window and lag span."""
    window, lag0, step = config[WINDOW], config[FIRST_LAG], config[LAG_STEP]
    base, last_lag = state[BASE], lag0 + (config[LAGS] - 1) * step
    centre[0] = samples[0, a - base : a - base + window].mean()
    centre[1] = samples[1, a + lag0 - base : a + window + last_lag - base].mean()
    sxy[:] = 0.0
    _add_products(samples, base, a, window, lag0, step, centre[0], centre[1], 1.0, sxy)
    state[START] = a
    state[SINCE_REFRESH] = 0
    state[BLOCKS] = 0  # their sums were taken about the old centre


@njit(
    "void(float64[:, ::1], int64[::1], int64[::1], float64[::1], float64[::1], float64[:, ::1], int64[:, ::1], int64)",
    **_KERNEL,
)
def _advance(samples, state, config, centre, sxy, blocks, spans, a):
    """Move Σxy from the window at ``state[START]`` to the one at ``a``: add the entering block, take the leaving one.

    The entering block's contribution is kept in the ring; when the same
    block leaves (reads a steady hop apart) it is subtracted unchanged:
    exact cancellation, and only the entering block is computed. Otherwise
    (irregular reads) the leaving samples are computed directly.
    """
    old, window, lag0, step = state[START], config[WINDOW], config[FIRST_LAG], config[LAG_STEP]
    base, cx, cy, delta, capacity = state[BASE], centre[0], centre[1], a - old, spans.shape[0]
    while state[BLOCKS] and spans[state[OLDEST_BLOCK], 0] < old:  # passed over by an irregular read
        state[OLDEST_BLOCK] = (state[OLDEST_BLOCK] + 1) % capacity
        state[BLOCKS] -= 1
    oldest = state[OLDEST_BLOCK]
    if state[BLOCKS] and spans[oldest, 0] == old and spans[oldest, 1] == delta:
        sxy -= blocks[oldest]
        state[OLDEST_BLOCK] = (oldest + 1) % capacity
        state[BLOCKS] -= 1
    else:
        _add_products(samples, base, old, delta, lag0, step, cx, cy, -1.0, sxy)
    if state[BLOCKS] == capacity:  # the oldest block's leaving will be computed directly
        state[OLDEST_BLOCK] = (state[OLDEST_BLOCK] + 1) % capacity
        state[BLOCKS] -= 1
    slot = (state[OLDEST_BLOCK] + state[BLOCKS]) % capacity
    entered = blocks[slot]
    entered[:] = 0.0
    _add_products(samples, base, old + window, delta, lag0, step, cx, cy, 1.0, entered)
    sxy += entered
    spans[slot, 0], spans[slot, 1] = old + window, delta
    state[BLOCKS] += 1
    state[START] = a
    state[SINCE_REFRESH] += delta


@njit("void(float64[:, ::1], int64[::1], int64[::1], float64[::1], float64[::1], int64, float64[::1])", **_KERNEL)
def _pearson(samples, state, config, centre, sxy, a, r):
    """r per lag from Σxy and the other four sums, taken afresh: ``Σx, Σx²`` directly, ``Σy, Σy²`` sliding.

    The therapist sums slide one sample at a time along the lag span
    (``O(span)``); a lag window whose samples are all equal is flat exactly,
    whatever the rounding of the sliding sums.
    """
    window, lag0, step = config[WINDOW], config[FIRST_LAG], config[LAG_STEP]
    cx, cy = centre[0], centre[1]
    xs = samples[0, a - state[BASE] : a - state[BASE] + window]
    ys = samples[1, a + lag0 - state[BASE] :]
    sx = sxx = 0.0
    for i in range(window):
        d = xs[i] - cx
        sx += d
        sxx += d * d
    vx = sxx - sx * sx / window
    if vx <= FLAT * sxx:
        r[:] = np.nan
        return
    sy = syy = 0.0
    changes = 0  # neighbours that differ inside the lag window
    for j in range(window):
        d = ys[j] - cy
        sy += d
        syy += d * d
        if j and ys[j] != ys[j - 1]:
            changes += 1
    for k in range(r.size):
        if k:  # slide the lag window `step` samples on
            for j in range((k - 1) * step, k * step):
                leaving, entering = ys[j] - cy, ys[j + window] - cy
                sy += entering - leaving
                syy += entering * entering - leaving * leaving
                changes += int(ys[j + window] != ys[j + window - 1]) - int(ys[j + 1] != ys[j])
        mean_y = sy / window
        vy = syy - sy * mean_y
        if changes == 0 or vy <= FLAT * syy:
            r[k] = np.nan
        else:
            rk = (sxy[k] - sx * mean_y) / math.sqrt(vy * vx)
            r[k] = min(1.0, max(-1.0, rk))


@njit(
    "int64(float64[:, ::1], int64[::1], int64[::1], float64[::1], float64[::1], float64[:, ::1], int64[:, ::1],"
    " float64[::1])",
    **_KERNEL,
)
def correlate(samples, state, config, centre, sxy, blocks, spans, r):
    """Bring Σxy up to the newest complete window and write its r per lag; return READY, TOO_FEW or MISSING.

    Σxy moves by the samples that entered and left the patient window since
    the last call (:func:`_advance`, ``O(Δ · lags)``); it is recomputed
    exactly instead when that is no less work (``2Δ >= window``), when the
    samples it would need were dropped, after ``REFRESH_AFTER`` samples
    (floating drift), and after a missing sample.
    """
    window, before = config[WINDOW], config[BEFORE]
    a = state[TOTAL] - window - config[AFTER]
    if a - before < 0:
        return TOO_FEW
    if state[LAST_MISSING] >= a - before:
        state[START] = -1
        return MISSING
    old = state[START]
    stale = old - before < state[BASE] or state[SINCE_REFRESH] >= config[REFRESH_AFTER]
    if old < 0 or 2 * (a - old) >= window or stale:
        _recompute(samples, state, config, centre, sxy, a)
    elif a > old:
        _advance(samples, state, config, centre, sxy, blocks, spans, a)
    _pearson(samples, state, config, centre, sxy, a, r)
    return READY


@njit("int64(float64[:], boolean, int64)", **_KERNEL)
def peak_index(r, nearest, span):
    """Index of the synchrony peak, -1 when every r is NaN; the rule is :func:`~._xcorr.pick_peak`'s."""
    best = -1  # the global maximum, first on ties (as np.nanargmax)
    for i in range(r.size):
        if not math.isnan(r[i]) and (best < 0 or r[i] > r[best]):
            best = i
    if best < 0 or not nearest or r.size <= 2 * span:
        return best
    centre = (r.size - 1) / 2
    chosen, chosen_distance = -1, math.inf
    for i in range(span, r.size - span):
        if math.isnan(r[i]):
            continue
        local = True
        for j in range(i - span, i + span + 1):
            if r[j] > r[i]:  # NaN neighbours compare False: they never beat a value
                local = False
                break
        distance = abs(i - centre)
        if local and (distance < chosen_distance or (distance == chosen_distance and r[i] > r[chosen])):
            chosen, chosen_distance = i, distance
    return best if chosen < 0 else chosen
