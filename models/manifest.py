"""Model manifests: what an ONNX file expects and what its outputs mean.

Each model in the model directory is ``NAME.onnx`` plus ``NAME.json``. The
manifest names the contract the model follows (how inputs are prepared and
outputs read), the input tensor (name, shape, layout), the preprocessing
(size, colour, normalisation) and the meaning of each output, so a user's own
model works once it is described, without code changes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Preprocessing:
    """How an image crop becomes the input tensor.

    The crop is resized to ``size`` (width, height), converted to ``colour``
    (``"gray"`` or ``"rgb"``), divided by ``scale``, then normalised per
    channel as ``(x - mean) / std``.
    """

    size: tuple[int, int] = (0, 0)
    colour: str = "rgb"
    scale: float = 255.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    sample_rate: int = 0


@dataclass(frozen=True)
class Manifest:
    """The description of one model file."""

    name: str
    contract: str
    input_name: str
    input_shape: tuple[int | str, ...]
    layout: str = "NCHW"
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    #: Output name -> what it holds (e.g. ``"logits: 7 classes angry..neutral"``).
    outputs: dict[str, str] = field(default_factory=dict)
    #: Class labels in output order, for classifiers.
    labels: tuple[str, ...] = ()
    source: str = ""
    licence: str = ""

    def to_json(self) -> str:
        """The manifest as pretty JSON."""
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Manifest:
        """Read the JSON form (lists become tuples)."""
        pre = obj.get("preprocessing") or {}
        pre = Preprocessing(**{k: tuple(v) if isinstance(v, list) else v for k, v in pre.items()})
        return cls(
            name=obj["name"],
            contract=obj["contract"],
            input_name=obj["input_name"],
            input_shape=tuple(obj["input_shape"]),
            layout=obj.get("layout", "NCHW"),
            preprocessing=pre,
            outputs=dict(obj.get("outputs") or {}),
            labels=tuple(obj.get("labels") or ()),
            source=obj.get("source", ""),
            licence=obj.get("licence", ""),
        )

    def write(self, model_path: Path) -> Path:
        """Write this manifest beside ``model_path``; returns the manifest path."""
        path = manifest_path(model_path)
        path.write_text(self.to_json())
        return path


def manifest_path(model_path: Path) -> Path:
    """Where the manifest of ``model_path`` lives: same name, ``.json``."""
    return Path(model_path).with_suffix(".json")


def read_manifest(model_path: Path) -> Manifest:
    """The manifest beside ``model_path``."""
    path = manifest_path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"no manifest {path.name} beside {Path(model_path).name}")
    return Manifest.from_dict(json.loads(path.read_text()))
