"""The command line stays light: ``--help`` loads no heavy library and works without the model runtime.

Every check runs in a fresh interpreter, so what this test process has
already imported cannot hide an import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dyadscope.service.cli import VERBS

#: Libraries that ``--help`` must not load: slow to import and heavy on memory.
HEAVY = ("onnxruntime", "scipy", "numba", "torch", "pandas")

#: Runs ``dyadscope ARGV`` in-process and prints its exit code and which of HEAVY got imported.
_PROBE = """
import json, sys
from dyadscope.service.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
"""


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.parametrize("verb", [None, *VERBS])
def test_help_imports_no_heavy_library(verb: str | None) -> None:
    assert _probe([*([verb] if verb else []), "--help"]) == {"code": 0, "loaded": []}


def test_simulate_publishes_without_the_model_runtime_or_the_processors() -> None:
    assert _probe(["simulate", "--duration", "0.5"]) == {"code": 0, "loaded": []}


def _probe(argv: list[str]) -> dict:
    proc = _run(["-c", _PROBE % (HEAVY,), *argv])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture
def no_onnxruntime(tmp_path: Path) -> dict[str, str]:
    """An environment where ``import onnxruntime`` fails, as without the cpu/gpu extra."""
    (tmp_path / "onnxruntime.py").write_text("raise ImportError('onnxruntime is not installed here')\n")
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


@pytest.mark.parametrize("verb", [None, *VERBS])
def test_help_works_without_the_model_runtime(verb: str | None, no_onnxruntime: dict[str, str]) -> None:
    argv = ["-m", "dyadscope.service.cli", *([verb] if verb else []), "--help"]
    proc = _run(argv, env=no_onnxruntime)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: dyadscope {verb or ''}".rstrip())
    assert "Traceback" not in proc.stderr


def test_the_service_loads_without_the_model_runtime_and_a_model_says_what_to_install(
    no_onnxruntime: dict[str, str], tmp_path: Path
) -> None:
    probe = """
import sys
import dyadscope.service.runner  # the app, the sessions, the media wiring
from dyadscope.models.runtime import ModelSession
assert "onnxruntime" not in sys.modules
try:
    ModelSession(sys.argv[1])
except ImportError as exc:
    print(exc)
"""
    proc = _run(["-c", probe, str(tmp_path / "model.onnx")], env=no_onnxruntime)
    assert proc.returncode == 0, proc.stderr
    assert "pip install 'dyadscope[cpu]'" in proc.stdout
