"""Movement from sensors: streamed motion energy and accelerometers, as the ``movement`` feature.

So that researchers with existing motion-energy data, or a body-worn
accelerometer instead of a camera, get the same movement synchrony as the
camera's motion energy (:mod:`dyadscope.perception.movement`), two LSL stream
types give the very same feature, ``Feature("movement", role, t,
{"energy", "measure", "source"})``:

* ``Movement`` (one channel): motion energy computed elsewhere, as motion
  energy analysis gives it (MEA, Ramseyer & Tschacher 2011; rMEA, Kleinbub &
  Ramseyer 2021: one value per video frame). One feature per sample, the
  value as sent (``measure`` ``"motion_energy"``), exactly as the camera's
  motion energy gives one per frame.
* ``ACC`` (three channels, x y z, in g, mg or m/s²): ENMO, the Euclidean norm
  minus one g (van Hees et al. 2013, PLoS ONE 8:e61691): per sample
  ``max(0, sqrt(x² + y² + z²) - 1 g)``, which removes gravity from a
  calibrated sensor at rest and rectifies, averaged over 0.1 s epochs (the
  10 Hz grid movement synchrony reads, :data:`~dyadscope.stream.processors.dyadic._grid.SOURCES`).
  One feature per epoch, stamped at the epoch's centre, in g (``measure``
  ``"enmo"``), once a sample at or after its end has come. Epochs with no
  finite sample give ``energy`` None (missing, as NaN samples are). van Hees
  et al. average over 1-60 s epochs for physical activity; 0.1 s keeps the
  time resolution motion-energy synchrony uses. An uncalibrated sensor's
  gravity offset (a few hundredths of a g) shifts ENMO at rest; the
  correlation that synchrony takes is blind to a constant shift.

``source`` names the stream, so offline analysis, which recomputes these
features from the recorded stream, does not also replay the logged ones.
Synchrony is a correlation, so the two measures' units do not matter to it;
each person's series comes from one stream (the ingest takes one stream per
person and modality).
"""

from __future__ import annotations

import math

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.base import ChunkProcessor
from dyadscope.stream.types import Chunk, Feature, StreamInfo

#: The LSL types (modalities) that carry movement, and the channels each has.
MOVEMENT_CHANNELS: dict[str, int] = {"Movement": 1, "ACC": 3}
#: ENMO epochs per second: the rate of movement synchrony's grid.
EPOCH_RATE_HZ = 10.0
#: Standard gravity in m/s² (ISO 80000-3), for accelerometers that report m/s².
STANDARD_GRAVITY = 9.80665
#: Accelerometer units (lower case, as a stream's channel ``unit``) and their size in g.
ACC_UNITS_G: dict[str, float] = {
    "": 1.0,  # no unit declared: g, the unit accelerometer streams use by default
    "g": 1.0,
    "mg": 1e-3,
    "m/s^2": 1.0 / STANDARD_GRAVITY,
    "m/s2": 1.0 / STANDARD_GRAVITY,
    "m/s²": 1.0 / STANDARD_GRAVITY,
    "m s-2": 1.0 / STANDARD_GRAVITY,
}


def acc_scale_g(info: StreamInfo) -> float:
    """The factor that takes an ACC stream's values to g; ValueError for units that are not g, mg or m/s²."""
    units = {unit.strip().lower() for unit in info.units} or {""}
    unknown = sorted(units - set(ACC_UNITS_G))
    if unknown:
        raise ValueError(f"ACC needs its channels in g, mg or m/s^2, but the stream's unit is {unknown[0]!r}")
    scales = {ACC_UNITS_G[unit] for unit in units}
    if len(scales) > 1:
        raise ValueError(f"ACC needs one unit for its three channels, but the stream has {sorted(units)}")
    return scales.pop()


def _features(info: StreamInfo, measure: str, times: list[float], values: list[float]) -> list[Feature]:
    """Movement features of ``info``'s person, ``energy`` None where the value is NaN."""
    return [
        Feature(
            kinds.MOVEMENT,
            info.role,
            t,
            {"energy": None if math.isnan(v) else v, "measure": measure, "source": info.name},
        )
        for t, v in zip(times, values)
    ]


class MotionEnergyStream:
    """A ``Movement`` stream's samples as movement features, one per sample, values as sent."""

    def __init__(self, info: StreamInfo):
        self._info = info

    def process(self, chunk: Chunk) -> list[Feature]:
        """One feature per sample of channel 0."""
        values = chunk.values[:, 0].astype(float).tolist()
        return _features(self._info, "motion_energy", chunk.timestamps.tolist(), values)


class AccelerometerENMO:
    """An ``ACC`` stream as ENMO (van Hees et al. 2013) averaged over 0.1 s epochs; see the module docstring."""

    def __init__(self, info: StreamInfo, epoch_rate_hz: float = EPOCH_RATE_HZ):
        self._info = info
        self._scale = acc_scale_g(info)
        self._rate = epoch_rate_hz
        self._epochs = np.empty(0, dtype=np.int64)  # the unfinished epoch's samples: epoch index ...
        self._enmo = np.empty(0)  # ... and ENMO (g)

    def process(self, chunk: Chunk) -> list[Feature]:
        """Features for every epoch this chunk completes."""
        xyz = chunk.values[:, :3].astype(float) * self._scale
        enmo = np.maximum(np.sqrt((xyz * xyz).sum(axis=1)) - 1.0, 0.0)  # NaN stays NaN
        epochs = np.floor(chunk.timestamps * self._rate + 1e-9).astype(np.int64)
        epochs = np.concatenate([self._epochs, epochs])
        enmo = np.concatenate([self._enmo, enmo])
        if not epochs.size:
            return []
        done = epochs < epochs[-1]  # an epoch is complete once a later one has begun
        self._epochs, self._enmo = epochs[~done], enmo[~done]
        return self._epoch_means(epochs[done], enmo[done])

    def _epoch_means(self, epochs: np.ndarray, enmo: np.ndarray) -> list[Feature]:
        """The mean ENMO of each epoch (finite samples only), at the epoch's centre."""
        if not epochs.size:
            return []
        starts = np.flatnonzero(np.r_[True, np.diff(epochs) != 0])
        index = epochs[starts]
        finite = np.isfinite(enmo)
        sums = np.add.reduceat(np.where(finite, enmo, 0.0), starts)
        counts = np.add.reduceat(finite.astype(int), starts)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), math.nan)
        return _features(self._info, "enmo", ((index + 0.5) / self._rate).tolist(), means.tolist())


def movement_stream_processors(info: StreamInfo) -> list[ChunkProcessor]:
    """Chunk-processor factory: movement features from assigned ``Movement`` and ``ACC`` streams.

    ValueError for a stream that cannot be read as its type (channel count,
    format, accelerometer unit), so offline analysis can say why it skips it.
    """
    channels = MOVEMENT_CHANNELS.get(info.modality)
    if info.role is None or channels is None:
        return []
    if info.channel_format == "string" or info.channel_count != channels:
        raise ValueError(
            f"{info.modality} needs {channels} numeric channel{'s' if channels > 1 else ''}, but the stream has "
            f"{info.channel_count} ({info.channel_format})"
        )
    if info.modality == "ACC":
        return [AccelerometerENMO(info)]
    return [MotionEnergyStream(info)]
