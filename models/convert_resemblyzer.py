"""Convert Resemblyzer's GE2E speaker encoder (``pretrained.pt``) to ONNX, without torch.

The network (Wan et al. 2018, GE2E loss; Resemblyzer 0.1.4): a 3-layer LSTM
of 256 units over 40-channel mel frames, the last layer's final hidden state
through a 256 → 256 linear layer, ReLU and L2 normalisation. The graph takes
``mels`` [batch, frames, 40] (one 1.6 s partial = 160 frames) and gives
``embedding`` [batch, 256]. PyTorch orders LSTM gates i, f, g, o; ONNX wants
i, o, f, c, so the weight blocks are reordered here. ``reference_embed`` is the
same network in numpy, the check of the conversion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dyadscope.models._torch_pickle import load_checkpoint
from dyadscope.models.manifest import Manifest

RESEMBLYZER_REQUIREMENT = "Resemblyzer==0.1.4"
RESEMBLYZER_WEIGHTS = "resemblyzer/pretrained.pt"
MODEL_NAME = "speaker_encoder"
INPUT_NAME = "mels"
OUTPUT_NAME = "embedding"
N_MELS = 40
HIDDEN = 256
N_LAYERS = 3
#: PyTorch gate blocks (i, f, g, o) in ONNX's order (i, o, f, c).
_GATE_ORDER = (0, 3, 1, 2)


def resemblyzer_weights(data: bytes) -> dict[str, np.ndarray]:
    """The encoder's state dict (``lstm.*``, ``linear.*``) from ``pretrained.pt`` bytes."""
    state = load_checkpoint(data)["model_state"]
    return {k: np.asarray(v, dtype=np.float32) for k, v in state.items() if k.startswith(("lstm.", "linear."))}


def _onnx_gates(w: np.ndarray) -> np.ndarray:
    blocks = np.split(w, 4, axis=0)
    return np.concatenate([blocks[i] for i in _GATE_ORDER], axis=0)


def convert_encoder(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The ONNX graph of the encoder from its state dict."""
    inits, nodes = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    nodes.append(helper.make_node("Transpose", [INPUT_NAME], ["x0"], perm=[1, 0, 2]))
    x = "x0"
    for layer in range(N_LAYERS):
        w = const(f"W{layer}", _onnx_gates(weights[f"lstm.weight_ih_l{layer}"])[None])
        r = const(f"R{layer}", _onnx_gates(weights[f"lstm.weight_hh_l{layer}"])[None])
        bias = np.concatenate(
            [_onnx_gates(weights[f"lstm.bias_ih_l{layer}"]), _onnx_gates(weights[f"lstm.bias_hh_l{layer}"])]
        )
        b = const(f"B{layer}", bias[None])
        outs = [f"y{layer}", f"h{layer}"]
        nodes.append(helper.make_node("LSTM", [x, w, r, b], outs, hidden_size=HIDDEN, name=f"lstm{layer}"))
        axes = const(f"ax{layer}", np.array([1], dtype=np.int64))
        nodes.append(helper.make_node("Squeeze", [f"y{layer}", axes], [f"x{layer + 1}"]))
        x = f"x{layer + 1}"
    axes0 = const("ax_h", np.array([0], dtype=np.int64))
    nodes.append(helper.make_node("Squeeze", [f"h{N_LAYERS - 1}", axes0], ["hidden"]))
    nodes.append(helper.make_node("MatMul", ["hidden", const("lin_w", weights["linear.weight"].T.copy())], ["lin"]))
    nodes.append(helper.make_node("Add", ["lin", const("lin_b", weights["linear.bias"])], ["lin_b_out"]))
    nodes.append(helper.make_node("Relu", ["lin_b_out"], ["raw"]))
    nodes.append(helper.make_node("ReduceL2", ["raw"], ["norm"], axes=[1], keepdims=1))
    nodes.append(helper.make_node("Div", ["raw", "norm"], [OUTPUT_NAME]))
    graph = helper.make_graph(
        nodes,
        MODEL_NAME,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", "frames", N_MELS])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", HIDDEN])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="dyadscope")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def reference_embed(weights: dict[str, np.ndarray], mels: np.ndarray) -> np.ndarray:
    """The encoder in float64 numpy, PyTorch's equations: ``mels`` [batch, frames, 40] → [batch, 256]."""
    x = np.asarray(mels, dtype=np.float64)
    for layer in range(N_LAYERS):
        w_ih = weights[f"lstm.weight_ih_l{layer}"].astype(np.float64)
        w_hh = weights[f"lstm.weight_hh_l{layer}"].astype(np.float64)
        bias = (weights[f"lstm.bias_ih_l{layer}"] + weights[f"lstm.bias_hh_l{layer}"]).astype(np.float64)
        h = np.zeros((x.shape[0], HIDDEN))
        c = np.zeros_like(h)
        pre = x @ w_ih.T + bias
        ys = []
        for t in range(x.shape[1]):
            i, f, g, o = np.split(pre[:, t] + h @ w_hh.T, 4, axis=1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            ys.append(h)
        x = np.stack(ys, axis=1)
    raw = np.maximum(h @ weights["linear.weight"].T.astype(np.float64) + weights["linear.bias"], 0.0)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def speaker_encoder_manifest() -> Manifest:
    """The manifest of the converted encoder."""
    return Manifest(
        name=MODEL_NAME,
        contract=MODEL_NAME,
        input_name=INPUT_NAME,
        input_shape=("batch", "frames", N_MELS),
        layout="NTC",
        outputs={OUTPUT_NAME: "L2-normalised 256-d speaker embedding of each partial utterance"},
        source=f"PyPI {RESEMBLYZER_REQUIREMENT}: {RESEMBLYZER_WEIGHTS} (GE2E, Wan et al. 2018)",
        licence="Apache-2.0",
    )


def build_speaker_encoder(wheel: Path, model_dir: Path) -> Path:
    """Convert the encoder inside a ``Resemblyzer`` wheel; writes the ONNX file and its manifest."""
    from dyadscope.models.wheels import read_member

    model = convert_encoder(resemblyzer_weights(read_member(wheel, RESEMBLYZER_WEIGHTS)))
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"{MODEL_NAME}.onnx"
    onnx.save(model, str(path))
    speaker_encoder_manifest().write(path)
    return path
