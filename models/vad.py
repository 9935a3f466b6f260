"""Voice activity with Silero VAD (v5 ONNX, from the silero-vad wheel) on our runtime.

The model reads 512 new samples at 16 kHz plus the 64 samples before them and
carries a recurrent state ``[2, batch, 128]`` from one window to the next; it
returns the probability that the window holds speech. Each stream keeps its
own state and context (:class:`VadStream`); :func:`run_vad_batch` runs windows
of many streams as one batch (the batch axis of ``state`` is axis 1), which is
what the micro-batcher calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from dyadscope.models.runtime import ModelSession
from dyadscope.stream.frames import AUDIO_RATE_HZ

#: Silero reads 16 kHz, the rate every microphone is resampled to.
SAMPLE_RATE = AUDIO_RATE_HZ
WINDOW = 512
CONTEXT = 64
STATE_SHAPE = (2, 128)

#: One window to score: (context + window samples [576], state [2, 128]).
VadItem = tuple[np.ndarray, np.ndarray]
#: The answer: (speech probability, next state [2, 128]).
VadResult = tuple[float, np.ndarray]


def run_vad_batch(session: ModelSession, items: Sequence[VadItem]) -> list[VadResult]:
    """Score windows of many streams in one inference."""
    feeds = {
        "input": np.stack([samples for samples, _ in items]).astype(np.float32),
        "state": np.stack([state for _, state in items], axis=1).astype(np.float32),
        "sr": np.array(SAMPLE_RATE, dtype=np.int64),
    }
    out = session.run(feeds)
    probs, states = out["output"][:, 0], out["stateN"]
    return [(float(probs[i]), states[:, i]) for i in range(len(items))]


class VadStream:
    """One stream's Silero state: feed 512-sample windows, get speech probabilities.

    ``score`` runs one item — directly on a session offline, or through the
    shared micro-batcher live.
    """

    def __init__(self, score: Callable[[VadItem], VadResult]):
        self._score = score
        self._state = np.zeros(STATE_SHAPE, np.float32)
        self._context = np.zeros(CONTEXT, np.float32)

    def probability(self, window: np.ndarray) -> float:
        """Speech probability of the next 512 samples (float32 in [−1, 1])."""
        samples = np.concatenate((self._context, window))
        prob, self._state = self._score((samples, self._state))
        self._context = samples[-CONTEXT:]
        return prob


def direct_scorer(session: ModelSession) -> Callable[[VadItem], VadResult]:
    """Score windows one by one on ``session`` (offline, tests)."""
    return lambda item: run_vad_batch(session, [item])[0]
