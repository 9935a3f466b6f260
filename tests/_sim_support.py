"""The simulated dyad's per-person physiology, by the default pipeline, shared by the dyadic tests."""

from __future__ import annotations

from dyadscope.sensors.simulate import SimulatedDyad
from dyadscope.stream import kinds
from dyadscope.stream.processors.registry import default_pipeline
from dyadscope.stream.types import Feature

#: Seeds and length of the simulated sessions: 1380 s hold two cycles of every planted stretch.
SIM_SEEDS, SIM_DURATION_S = (1, 2, 3), 1380.0
PHYSIO_KINDS = (kinds.EDA, kinds.HEART_RATE, kinds.RSA)


def physio_features(seed: int, duration_s: float = SIM_DURATION_S) -> list[Feature]:
    """EDA, heart-rate and RSA features of both people of ``SimulatedDyad(seed)``, in data-time order."""
    pipeline, dyad, features = default_pipeline(), SimulatedDyad(seed), []
    for step in range(1, int(duration_s) + 1):
        for chunk in dyad.read_until(float(step)):
            features += [f for f in pipeline.process(chunk) if f.kind in PHYSIO_KINDS]
    return features
