"""Valence and arousal from discrete emotion probabilities.

A classifier's class probabilities become a point in the valence–arousal
plane as the probability-weighted sum of each class's circumplex coordinates
(Russell 1980; Posner, Russell & Peterson 2005). The coordinates are the
pleasure and arousal ratings of the emotion terms in Russell & Mehrabian
(1977), "Evidence for a three-factor theory of emotions", J. Res. Pers. 11,
273–294 (scale −1..1): happy (.81, .51), surprised (.40, .67), angry
(−.51, .59), afraid (−.64, .60), disgusted (−.60, .35), sad (−.63, −.27);
neutral is the origin by definition.
"""

from __future__ import annotations

import numpy as np

#: (valence, arousal) per emotion label.
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "angry": (-0.51, 0.59),
    "disgust": (-0.60, 0.35),
    "fear": (-0.64, 0.60),
    "happy": (0.81, 0.51),
    "sad": (-0.63, -0.27),
    "surprise": (0.40, 0.67),
    "neutral": (0.0, 0.0),
}


def circumplex_matrix(labels: tuple[str, ...]) -> np.ndarray:
    """A (classes, 2) matrix of (valence, arousal) in the classifier's label order."""
    missing = [label for label in labels if label not in CIRCUMPLEX]
    if missing:
        raise ValueError(f"no circumplex coordinates for {missing}")
    return np.array([CIRCUMPLEX[label] for label in labels], dtype=np.float32)


def valence_arousal(probabilities: np.ndarray, coordinates: np.ndarray) -> np.ndarray:
    """(..., classes) probabilities -> (..., 2) valence and arousal in [−1, 1]."""
    p = np.asarray(probabilities, dtype=np.float32)
    p = p / np.maximum(p.sum(axis=-1, keepdims=True), 1e-12)
    return np.clip(p @ coordinates, -1.0, 1.0)
