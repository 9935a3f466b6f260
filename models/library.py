"""The model directory: what is installed and how to load it.

Every model is ``NAME.onnx`` with its manifest ``NAME.json`` in one directory
(:func:`.runtime.default_model_dir`). Nothing is downloaded at run time:
missing defaults are built with ``dyadscope models build``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dyadscope.models.face_affect import FaceAffectModel
from dyadscope.models.manifest import Manifest, read_manifest
from dyadscope.models.runtime import ModelSession, RuntimeOptions, default_model_dir

DEFAULT_FACE_MODEL = "fer_mini_xception"
DEFAULT_VAD_MODEL = "silero_vad"
DEFAULT_FACE_DETECTOR = "blazeface_full"
DEFAULT_FACE_MESH = "face_mesh"


class ModelMissing(FileNotFoundError):
    """A model is not in the model directory."""


@dataclass(frozen=True)
class InstalledModel:
    """One model file with its manifest."""

    path: Path
    manifest: Manifest


class ModelLibrary:
    """Finds and loads the models of one directory, each session once."""

    def __init__(self, model_dir: Path | None = None, options: RuntimeOptions = RuntimeOptions()):
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.options = options
        self._sessions: dict[Path, ModelSession] = {}

    def installed(self) -> list[InstalledModel]:
        """Every model with a manifest, by name."""
        if not self.model_dir.is_dir():
            return []
        return [
            InstalledModel(p, read_manifest(p))
            for p in sorted(self.model_dir.glob("*.onnx"))
            if p.with_suffix(".json").is_file()
        ]

    def path(self, name_or_path: str | Path) -> Path:
        """A model file by name (in the directory) or by path."""
        candidate = Path(name_or_path)
        if candidate.suffix == ".onnx" and candidate.is_file():
            return candidate
        path = self.model_dir / f"{name_or_path}.onnx"
        if not path.is_file():
            raise ModelMissing(f"model {name_or_path!r} is not in {self.model_dir}; run `dyadscope models build`")
        return path

    def session(self, name_or_path: str | Path) -> tuple[ModelSession, Manifest]:
        """The (shared) runtime session of a model and its manifest."""
        path = self.path(name_or_path)
        if path not in self._sessions:
            self._sessions[path] = ModelSession(path, self.options)
        return self._sessions[path], read_manifest(path)

    def face_model(self, name_or_path: str | Path = DEFAULT_FACE_MODEL) -> FaceAffectModel:
        """A face affect model ready to prepare crops and run them."""
        return FaceAffectModel(*self.session(name_or_path))
