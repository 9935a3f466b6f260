"""ONNX Runtime sessions: one per model, CUDA first, CPU otherwise.

Thread counts are kept small by default because the service shares its CPU
with capture, physiology and the web server; the CUDA provider is used when
the installed ONNX Runtime offers it, and the one in use is logged.

ONNX Runtime is an optional extra (``cpu`` or ``gpu``) and a heavy import,
so it is loaded when a model is first needed, not when this module is.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_DIR_ENV = "DYADSCOPE_MODEL_DIR"

#: Providers in order of preference.
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def _onnxruntime():
    """The ``onnxruntime`` module, imported on first use; a hint at the extra if it is missing."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            "the model runtime is not installed: pip install 'dyadscope[cpu]' (or 'dyadscope[gpu]')", name=exc.name
        ) from exc
    return onnxruntime


def default_model_dir() -> Path:
    """``$DYADSCOPE_MODEL_DIR``, else ``$XDG_DATA_HOME/dyadscope/models`` (``~/.local/share``)."""
    explicit = os.environ.get(MODEL_DIR_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dyadscope" / "models"


@dataclass(frozen=True)
class RuntimeOptions:
    """How sessions use the machine.

    ``intra_op_threads`` is per session; on a shared two-core machine one or
    two keeps the models from starving the event loop.
    """

    intra_op_threads: int = 1
    inter_op_threads: int = 1
    use_cuda: bool = True


def available_providers(use_cuda: bool = True) -> list[str]:
    """The preferred providers this ONNX Runtime build offers, best first."""
    offered = set(_onnxruntime().get_available_providers())
    wanted = [p for p in PREFERRED_PROVIDERS if p in offered]
    if not use_cuda:
        wanted = [p for p in wanted if p != "CUDAExecutionProvider"]
    return wanted or ["CPUExecutionProvider"]


class ModelSession:
    """One ONNX model loaded once, runnable from any thread."""

    def __init__(self, path: Path | str, options: RuntimeOptions = RuntimeOptions()):
        ort = _onnxruntime()
        self.path = Path(path)
        so = ort.SessionOptions()
        so.intra_op_num_threads = options.intra_op_threads
        so.inter_op_num_threads = options.inter_op_threads
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(self.path), sess_options=so, providers=available_providers(options.use_cuda)
        )
        self.provider = self._session.get_providers()[0]
        self.inputs = {i.name: (tuple(i.shape), i.type) for i in self._session.get_inputs()}
        self.outputs = {o.name: (tuple(o.shape), o.type) for o in self._session.get_outputs()}
        self.output_names = [o.name for o in self._session.get_outputs()]
        log.info("model %s runs on %s", self.path.name, self.provider)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model once; returns every output by name."""
        values = self._session.run(self.output_names, feeds)
        return dict(zip(self.output_names, values, strict=True))
