"""Face affect: a face crop in, valence and arousal in [−1, 1] out.

The model and its manifest decide the preprocessing (size, colour,
normalisation) and how outputs are read (see :mod:`.contracts`), so the
default fer model and production models supplied by path share this code.
``run_batch`` is what the micro-batcher calls with crops from many streams.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from dyadscope.models.circumplex import circumplex_matrix, valence_arousal
from dyadscope.models.contracts import get_contract
from dyadscope.models.manifest import Manifest
from dyadscope.models.runtime import ModelSession

#: Box = (x, y, width, height) in pixels.
Box = tuple[int, int, int, int]

#: Context kept around a detected face, as a fraction of its size (fer keeps
#: 10 px around ~100 px Haar boxes).
CROP_MARGIN = 0.1


def square_crop(image: np.ndarray, box: Box, margin: float = CROP_MARGIN) -> np.ndarray:
    """The square region around ``box`` (grown by ``margin``), padded by edge replication."""
    x, y, w, h = box
    side = int(round(max(w, h) * (1.0 + 2.0 * margin)))
    cx, cy = x + w / 2.0, y + h / 2.0
    x0, y0 = int(round(cx - side / 2.0)), int(round(cy - side / 2.0))
    height, width = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + side - width, y0 + side - height)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    return image[y0 : y0 + side, x0 : x0 + side]


class FaceAffectModel:
    """A face affect model with its manifest: preprocessing, inference, decoding."""

    def __init__(self, session: ModelSession, manifest: Manifest):
        if get_contract(manifest.contract).modality != "face":
            raise ValueError(f"{manifest.name}: contract {manifest.contract!r} is not a face affect contract")
        self.session = session
        self.manifest = manifest
        pre = manifest.preprocessing
        self._size = tuple(pre.size)
        self._gray = pre.colour == "gray"
        self._scale = np.float32(pre.scale)
        self._mean = np.asarray(pre.mean, np.float32).reshape(-1, 1, 1)
        self._std = np.asarray(pre.std, np.float32).reshape(-1, 1, 1)
        self._circumplex = circumplex_matrix(manifest.labels) if manifest.contract == "fer_mini_xception" else None
        self.name = manifest.name

    @property
    def needs_colour(self) -> bool:
        """Whether the model reads colour (else gray frames suffice)."""
        return not self._gray

    def prepare(self, image: np.ndarray, box: Box) -> np.ndarray:
        """The model input (C, H, W) for the face at ``box`` in a BGR or gray frame."""
        crop = cv2.resize(square_crop(image, box), self._size, interpolation=cv2.INTER_AREA)
        if crop.ndim == 2:
            pixels = crop[None] if self._gray else np.repeat(crop[None], 3, axis=0)
        elif self._gray:
            pixels = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)[None]
        else:
            pixels = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
        return ((pixels.astype(np.float32) / self._scale - self._mean) / self._std).astype(np.float32)

    def decode(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """Batched model outputs -> (N, 2) valence and arousal in [−1, 1]."""
        contract = self.manifest.contract
        if contract == "fer_mini_xception":
            return valence_arousal(outputs["probabilities"], self._circumplex)
        if contract == "hsemotion_va":
            out = next(iter(outputs.values()))
            return np.clip(out[:, 8:10], -1.0, 1.0)
        if contract == "emonet":
            v = outputs["valence"].reshape(-1)
            a = outputs["arousal"].reshape(-1)
            return np.clip(np.stack([v, a], axis=1), -1.0, 1.0)
        raise ValueError(f"{self.name}: no decoder for contract {contract!r}")

    def run_batch(self, crops: Sequence[np.ndarray]) -> list[tuple[float, float]]:
        """Valence and arousal for each prepared crop, in one inference."""
        outputs = self.session.run({self.manifest.input_name: np.stack(crops)})
        return [(float(v), float(a)) for v, a in self.decode(outputs)]
