"""Model contracts: the shapes a model must have and how its outputs are read.

A contract fixes the input (rank, the sizes that matter, preprocessing) and
the outputs a model must offer. ``check_model`` loads a user's ONNX file,
compares it with the contract and returns the manifest that makes it usable;
the face and voice front-ends then read its outputs the contract's way.

Face contracts (crop of one face in, valence/arousal in [−1, 1] out):

* ``fer_mini_xception`` — our converted default: 64×64 gray, ``(x/255 − .5)×2``,
  7 class probabilities mapped through the circumplex.
* ``hsemotion_va`` — HSEmotion/EmotiEffLib ``enet_b0_8_va_mtl``: 224×224 RGB,
  ImageNet mean/std, one output of 10: 8 expression logits, valence, arousal.
* ``emonet`` — EmoNet: 256×256 RGB /255, outputs named ``valence`` and ``arousal``.

Voice contracts:

* ``audeering_dim`` — audeering wav2vec2 dimensional model: ``signal`` [1, n]
  float32 at 16 kHz → ``logits`` [1, 3] = arousal, dominance, valence in 0..1,
  mapped to [−1, 1] with 2x − 1.
* ``silero_vad`` — Silero VAD v5: ``input`` [batch, 64 + 512], ``state``
  [2, batch, 128], ``sr`` → ``output`` [batch, 1] speech probability, ``stateN``.
* ``speaker_encoder`` — Resemblyzer's GE2E encoder, converted by us: ``mels``
  [batch, frames, 40] (mel power, 25 ms window, 10 ms hop at 16 kHz) →
  ``embedding`` [batch, 256], L2-normalised.

Face front-end contracts (MediaPipe models, see :mod:`.convert_blazeface`):

* ``blazeface_full`` / ``blazeface_short`` — a letterboxed RGB frame, 192×192
  or 128×128, ``x / 127.5 − 1`` → ``boxes`` [1, anchors, 16] (box centre
  offset and size, then 6 keypoints, in input pixels relative to the anchor)
  and ``scores`` [1, anchors, 1] logits;
* ``face_mesh`` — a 192×192 RGB face crop /255 → ``landmarks`` (468 × x, y, z
  in input pixels) and ``face_flag`` (face-presence logit).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dyadscope.models.manifest import Manifest, Preprocessing
from dyadscope.models.runtime import ModelSession

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ContractError(ValueError):
    """A model does not match the contract it was offered under."""


@dataclass(frozen=True)
class Contract:
    """What a model must look like to be used under this name."""

    name: str
    modality: str  # "face" or "voice"
    #: Required sizes of the first input, by axis (None: any).
    input_dims: tuple[int | None, ...]
    #: Output names that must exist (empty: any one output, see ``output_width``).
    output_names: tuple[str, ...] = ()
    #: Required last-axis size of the first output (0: not checked).
    output_width: int = 0
    input_name: str = ""
    layout: str = "NCHW"
    preprocessing: Preprocessing = Preprocessing()
    labels: tuple[str, ...] = ()
    meaning: str = ""


CONTRACTS: dict[str, Contract] = {
    c.name: c
    for c in (
        Contract(
            "fer_mini_xception",
            "face",
            (None, 1, 64, 64),
            ("probabilities",),
            7,
            preprocessing=Preprocessing((64, 64), "gray", 255.0, (0.5,), (0.5,)),
            labels=("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
            meaning="7 FER2013 class probabilities -> circumplex valence/arousal",
        ),
        Contract(
            "hsemotion_va",
            "face",
            (None, 3, 224, 224),
            (),
            10,
            preprocessing=Preprocessing((224, 224), "rgb", 255.0, IMAGENET_MEAN, IMAGENET_STD),
            labels=("anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"),
            meaning="8 expression logits, then valence, arousal",
        ),
        Contract(
            "emonet",
            "face",
            (None, 3, 256, 256),
            ("valence", "arousal"),
            preprocessing=Preprocessing((256, 256), "rgb", 255.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
            meaning="valence and arousal in [-1, 1]",
        ),
        Contract(
            "blazeface_full",
            "face_detector",
            (1, 3, 192, 192),
            ("boxes", "scores"),
            16,
            preprocessing=Preprocessing((192, 192), "rgb", 127.5, (1.0, 1.0, 1.0), (1.0, 1.0, 1.0)),
            meaning="2304 anchors (48x48, stride 4): box and 6 keypoints in input pixels; score logits",
        ),
        Contract(
            "blazeface_short",
            "face_detector",
            (1, 3, 128, 128),
            ("boxes", "scores"),
            16,
            preprocessing=Preprocessing((128, 128), "rgb", 127.5, (1.0, 1.0, 1.0), (1.0, 1.0, 1.0)),
            meaning="896 anchors (16x16x2, 8x8x6): box and 6 keypoints in input pixels; score logits",
        ),
        Contract(
            "face_mesh",
            "face_mesh",
            (1, 3, 192, 192),
            ("landmarks", "face_flag"),
            preprocessing=Preprocessing((192, 192), "rgb", 255.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
            meaning="468 landmarks x, y, z in input pixels; face-presence logit",
        ),
        Contract(
            "audeering_dim",
            "voice",
            (1, None),
            ("logits",),
            3,
            input_name="signal",
            layout="NT",
            preprocessing=Preprocessing(sample_rate=16000),
            meaning="arousal, dominance, valence in 0..1, mapped with 2x - 1",
        ),
        Contract(
            "silero_vad",
            "voice",
            (None, None),
            ("output", "stateN"),
            input_name="input",
            layout="NT",
            preprocessing=Preprocessing(sample_rate=16000),
            meaning="speech probability per 512-sample window at 16 kHz",
        ),
        Contract(
            "speaker_encoder",
            "voice",
            (None, None, 40),
            ("embedding",),
            256,
            input_name="mels",
            layout="NTC",
            preprocessing=Preprocessing(sample_rate=16000),
            meaning="L2-normalised 256-d speaker embedding of 40-channel mel frames (10 ms hop)",
        ),
    )
}


def get_contract(name: str) -> Contract:
    """The contract called ``name``."""
    try:
        return CONTRACTS[name]
    except KeyError:
        raise ContractError(f"unknown contract {name!r}; known: {', '.join(CONTRACTS)}") from None


def _dims_match(actual: tuple, required: tuple[int | None, ...]) -> bool:
    if len(actual) != len(required):
        return False
    return all(r is None or not isinstance(a, int) or a == r for a, r in zip(actual, required, strict=True))


def check_session(session: ModelSession, contract: Contract) -> Manifest:
    """The manifest of a loaded model that follows ``contract``; raises ContractError if not."""
    inputs = list(session.inputs.items())
    name = contract.input_name or inputs[0][0]
    if name not in session.inputs:
        raise ContractError(f"{session.path.name}: no input named {name!r} (has {', '.join(session.inputs)})")
    shape, dtype = session.inputs[name]
    if dtype != "tensor(float)":
        raise ContractError(f"{session.path.name}: input {name!r} is {dtype}, expected float32")
    if not _dims_match(shape, contract.input_dims):
        raise ContractError(
            f"{session.path.name}: input {name!r} has shape {list(shape)}, "
            f"contract {contract.name} needs {list(contract.input_dims)} (None: any)"
        )
    missing = [o for o in contract.output_names if o not in session.outputs]
    if missing:
        raise ContractError(f"{session.path.name}: missing outputs {missing} (has {', '.join(session.outputs)})")
    if contract.output_width:
        out_name = contract.output_names[0] if contract.output_names else session.output_names[0]
        width = session.outputs[out_name][0][-1]
        if isinstance(width, int) and width != contract.output_width:
            raise ContractError(
                f"{session.path.name}: output {out_name!r} has {width} values per item, "
                f"contract {contract.name} needs {contract.output_width}"
            )
    return Manifest(
        name=session.path.stem,
        contract=contract.name,
        input_name=name,
        input_shape=tuple(shape),
        layout=contract.layout,
        preprocessing=contract.preprocessing,
        outputs={o: contract.meaning for o in (contract.output_names or session.output_names[:1])},
        labels=contract.labels,
    )


def check_model(path: Path | str, contract_name: str) -> Manifest:
    """Load ``path`` and check it against the named contract; returns its manifest."""
    contract = get_contract(contract_name)
    path = Path(path)
    if not path.is_file():
        raise ContractError(f"no model file at {path}")
    try:
        session = ModelSession(path)
    except Exception as exc:  # onnxruntime raises its own types for unreadable files
        raise ContractError(f"{path.name} is not a loadable ONNX model: {exc}") from None
    return check_session(session, contract)
