"""Shared by the movement tests: the real rMEA motion energy, and movement synchrony computed from it directly."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.processors.registry import default_pipeline
from dyadscope.stream.types import Feature, Role

#: The rMEA sessions' rate (one motion-energy value per video frame).
MEA_RATE_HZ = 25.0


def motion_energy(shared_data: Path, name: str = "normal_200_01") -> tuple[np.ndarray, np.ndarray]:
    """Patient's and therapist's motion energy (columns "pat", "th") of one real intake session."""
    data = np.loadtxt(shared_data / "dyadic" / f"{name}.txt", skiprows=1)
    return data[:, 0], data[:, 1]


def movement_sync(series: Mapping[Role, tuple[np.ndarray, np.ndarray]]) -> list[Feature]:
    """The movement ``sync`` features of the default pipeline fed each role's (times, energy) as plain features.

    Exactly what the camera's motion energy gives (one feature per frame,
    ``energy`` only), in time order: the reference the streamed paths must
    match.
    """
    features = sorted(
        (
            Feature(kinds.MOVEMENT, role, float(time), {"energy": float(value)})
            for role, (t, values) in series.items()
            for time, value in zip(t, values)
        ),
        key=lambda f: f.t,
    )
    out = default_pipeline().feed(features)
    return [f for f in out if f.kind == kinds.SYNC and f.data["modality"] == "movement"]
