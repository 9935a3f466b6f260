"""Voice affect per speech unit from a model following the audeering contract.

audeering's wav2vec2 dimensional model reads the raw signal (``signal``
[1, n], float32, 16 kHz) and gives ``logits`` [1, 3]: arousal, dominance and
valence in 0..1, which map to [−1, 1] as 2x − 1.
"""

from __future__ import annotations

import numpy as np

from dyadscope.models.manifest import Manifest
from dyadscope.models.runtime import ModelSession


class SpeechAffectModel:
    """Arousal and valence of one unit's audio."""

    def __init__(self, session: ModelSession, manifest: Manifest):
        if manifest.contract != "audeering_dim":
            raise ValueError(f"{manifest.name}: contract {manifest.contract!r} is not a voice affect contract")
        self.session = session
        self.manifest = manifest
        self.name = manifest.name

    def arousal_valence(self, signal: np.ndarray) -> tuple[float, float]:
        """(arousal, valence) in [−1, 1] for 16 kHz mono samples."""
        out = self.session.run({self.manifest.input_name: np.asarray(signal, np.float32)[None, :]})
        arousal, _dominance, valence = np.clip(out["logits"][0], 0.0, 1.0)
        return float(2 * arousal - 1), float(2 * valence - 1)
