"""The coupling coefficient of a lagged regression, and its p-value against time-shifted partners.

For rows ``i`` of a window::

    change(i) = α + β_self · own_distance(i) + β_partner · partner_distance(i) + ε(i)

The statistic is β_partner over its Newey–West (1987) standard error (Bartlett
weights, ``nw_lags`` lags), which stays honest when the rows overlap (a change
over ``h`` samples shares ``h − 1`` samples with the next row) and the residuals
are autocorrelated. Its null comes from the same regression with the partner's
distance taken ``k`` samples earlier, for each of the caller's shifts (spaced
apart: see :class:`.coregulation.CoregulationConfig`): the partner's own
dynamics are kept, only their timing relative to this person is broken.

The p-value asks whether ``t_0`` could be one more draw from the shifted
``t_k``: a normal prediction interval from their mean ``m`` and SD ``s``,
``z = (t_0 − m) / (s √(1 + 1/K))`` against Student's t with ``K − 1`` degrees
of freedom. With K = 20 shifts a rank p-value could not go below 1/21 and
found a planted stretch only where ``t_0`` beat every shift; the prediction
p-value holds its rate on pseudo-dyads and finds every planted stretch
(tests/test_dyadic_coregulation.py). A missing row is zeroed, so it adds
nothing and stays a gap in the Newey–West lags.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _nw_t(x: np.ndarray, y: np.ndarray, nw_lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (m, 3) and the last one's Newey–West t (m,) of m regressions stacked as x (m, n, 3), y (m, n).

    Rows that are all zero (missing) add nothing to either.
    """
    xtx = x.transpose(0, 2, 1) @ x
    inverse = np.linalg.inv(xtx)
    beta = (inverse @ (x.transpose(0, 2, 1) @ y[..., None]))[..., 0]
    residual = y - (x @ beta[..., None])[..., 0]
    score = (x @ inverse[:, :, 2:3])[..., 0] * residual  # each row's share of β_partner's error
    variance = (score * score).sum(axis=1)
    for lag in range(1, nw_lags + 1):
        variance += 2.0 * (1.0 - lag / (nw_lags + 1)) * (score[:, lag:] * score[:, :-lag]).sum(axis=1)
    return beta, beta[:, 2] / np.sqrt(np.maximum(variance, np.finfo(float).tiny))


def prediction_p(t0: float, null: np.ndarray) -> float:
    """Two-sided p of ``t0`` as one more draw from the normal sample ``null`` (prediction interval)."""
    spread = float(null.std(ddof=1)) * np.sqrt(1.0 + 1.0 / null.size)
    if not spread > 0.0:
        return 1.0
    return float(2.0 * stats.t.sf(abs(t0 - float(null.mean())) / spread, df=null.size - 1))


def shifted_coupling(
    change: np.ndarray,
    own_distance: np.ndarray,
    partner_distance: np.ndarray,
    rows: np.ndarray,
    shifts: np.ndarray,
    nw_lags: int,
    min_rows: int,
) -> dict[str, float | int] | None:
    """Fit the window ``rows`` (indices into the series) and its time-shifted nulls; None if it cannot be fitted.

    ``shifts`` are the partner shifts (samples, each ≤ ``rows[0]``). Returns the
    coefficients, the t statistic, its shift p-value, the rows used and the number of shifts.
    """
    partner = partner_distance[rows[None, :] - np.concatenate([[0], shifts])[:, None]]
    shape = partner.shape
    own, target = np.broadcast_to(own_distance[rows], shape), np.broadcast_to(change[rows], shape)
    keep = np.isfinite(partner) & np.isfinite(own) & np.isfinite(target)
    n = keep.sum(axis=1)
    if n[0] < min_rows:
        return None
    x = np.stack([np.ones(shape), own, partner], axis=2) * keep[..., None]
    x = np.nan_to_num(x)
    valid = n >= min_rows
    try:
        beta, t = _nw_t(x[valid], np.where(keep, target, 0.0)[valid], nw_lags)
    except np.linalg.LinAlgError:
        return None
    null = t[1:]
    return {
        "beta_self": float(beta[0, 1]),
        "beta_partner": float(beta[0, 2]),
        "t_stat": float(t[0]),
        "p_value": prediction_p(float(t[0]), null),
        "n": int(n[0]),
        "shifts": int(null.size),
    }
