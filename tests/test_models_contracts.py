"""Production face models supplied by path, through their contracts.

Each contract is exercised with a small ONNX model generated here with the
same input and output names and shapes: its outputs are simple functions of
the input channels, so the test also checks colour order and normalisation.
"""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest
from _models_support import audeering_like
from onnx import TensorProto, helper, numpy_helper

from dyadscope.models.contracts import ContractError, check_model
from dyadscope.models.face_affect import FaceAffectModel
from dyadscope.models.runtime import ModelSession


def _save(path, nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _channel_means(input_name, side):
    """Nodes giving the per-channel means of an image input as 'means' [N, 3]."""
    return (
        [helper.make_node("ReduceMean", [input_name, "axes"], ["pooled"], keepdims=0)],
        helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", 3, side, side]),
        [numpy_helper.from_array(np.array([2, 3], np.int64), "axes")],
    )


def hsemotion_like(path):
    """enet_b0_8_va_mtl's shape: [N,3,224,224] -> [N,10]; valence = .1 * R, arousal = .1 * B."""
    nodes, image, inits = _channel_means("input", 224)
    weights = np.zeros((3, 10), np.float32)
    weights[0, 8] = 0.1
    weights[2, 9] = 0.1
    nodes.append(helper.make_node("MatMul", ["pooled", "w"], ["output"]))
    inits.append(numpy_helper.from_array(weights, "w"))
    return _save(
        path, nodes, [image], [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])], inits
    )


def emonet_like(path):
    """EmoNet's shape: [N,3,256,256] -> valence [N], arousal [N]; valence = R/2, arousal = (R - B)/2."""
    nodes, image, inits = _channel_means("image", 256)
    inits += [
        numpy_helper.from_array(np.array([[0.5], [0.0], [0.0]], np.float32), "wv"),
        numpy_helper.from_array(np.array([[0.5], [0.0], [-0.5]], np.float32), "wa"),
        numpy_helper.from_array(np.array([-1], np.int64), "flat"),
    ]
    nodes += [
        helper.make_node("MatMul", ["pooled", "wv"], ["v2"]),
        helper.make_node("MatMul", ["pooled", "wa"], ["a2"]),
        helper.make_node("Reshape", ["v2", "flat"], ["valence"]),
        helper.make_node("Reshape", ["a2", "flat"], ["arousal"]),
    ]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch"]) for n in ("valence", "arousal")]
    return _save(path, nodes, [image], outs, inits)


def _solid(bgr):
    return np.full((300, 300, 3), bgr, np.uint8)


BOX = (100, 100, 100, 100)


def _face_model(path, contract):
    manifest = check_model(path, contract)
    manifest.write(path)
    return FaceAffectModel(ModelSession(path), manifest)


def test_hsemotion_contract_reads_valence_arousal_after_eight_logits(tmp_path):
    model = _face_model(hsemotion_like(tmp_path / "enet_b0_8_va_mtl.onnx"), "hsemotion_va")
    assert model.manifest.input_name == "input"
    crop = model.prepare(_solid((0, 0, 255)), BOX)  # pure red, BGR
    assert crop.shape == (3, 224, 224)
    ((v, a),) = model.run_batch([crop])
    # RGB order and ImageNet normalisation: R = (1 - .485) / .229, B = (0 - .406) / .225.
    assert v == pytest.approx(0.1 * (1 - 0.485) / 0.229, abs=1e-4)
    assert a == pytest.approx(0.1 * (0 - 0.406) / 0.225, abs=1e-4)


def test_emonet_contract_scales_by_255_and_reads_named_outputs(tmp_path):
    model = _face_model(emonet_like(tmp_path / "emonet_8.onnx"), "emonet")
    assert model.prepare(_solid((255, 0, 0)), BOX).shape == (3, 256, 256)
    results = model.run_batch([model.prepare(_solid((0, 0, 255)), BOX), model.prepare(_solid((255, 0, 0)), BOX)])
    np.testing.assert_allclose(results, [(0.5, 0.5), (0.0, -0.5)], atol=1e-5)


def test_emonet_input_is_pixels_over_255(tmp_path):
    model = _face_model(emonet_like(tmp_path / "e.onnx"), "emonet")
    frame = cv2.cvtColor(np.full((300, 300), 128, np.uint8), cv2.COLOR_GRAY2BGR)
    np.testing.assert_allclose(model.prepare(frame, BOX), 128 / 255.0, atol=1e-6)


def test_wrong_models_are_refused_with_a_reason(tmp_path):
    path = hsemotion_like(tmp_path / "m.onnx")
    with pytest.raises(ContractError, match=r"needs \[None, 3, 256, 256\]"):
        check_model(path, "emonet")
    with pytest.raises(ContractError, match="unknown contract"):
        check_model(path, "nope")
    with pytest.raises(ContractError, match="no model file"):
        check_model(tmp_path / "absent.onnx", "emonet")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ContractError, match="not a loadable ONNX model"):
        check_model(tmp_path / "junk.onnx", "emonet")


def test_a_voice_model_is_not_taken_as_a_face_model(tmp_path):
    path = audeering_like(tmp_path / "dim.onnx")
    with pytest.raises(ValueError, match="not a face affect contract"):
        FaceAffectModel(ModelSession(path), check_model(path, "audeering_dim"))
