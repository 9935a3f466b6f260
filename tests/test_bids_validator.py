"""The BIDS validator (npm ``bids-validator``, as ``.ci/run`` installs it) on our exports: no errors, no warnings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dyadscope.sensors.simulated_recording import record_simulated_session
from dyadscope.service.cli import main
from dyadscope.xdf.recorder import Recorder

REPO = Path(__file__).resolve().parents[1]
AUTHORS = ["--author", "Ada Lovelace", "--author", "Alan Turing"]  # one author alone is a warning (TOO_FEW_AUTHORS)


@pytest.fixture(scope="module")
def validator() -> str:
    """The ``bids-validator`` command: on PATH, else in the repository's ``node_modules``."""
    found = shutil.which("bids-validator") or shutil.which("bids-validator", path=str(REPO / "node_modules" / ".bin"))
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("bids-validator is not installed; .ci/run must install it (npm install bids-validator@1.15)")
        pytest.skip("bids-validator is not installed (npm install --no-save bids-validator@1.15)")
    return found


def _issues(validator: str, dataset: Path) -> dict[str, list[str]]:
    done = subprocess.run([validator, "--json", str(dataset)], capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)["issues"]
    return {level: [f"{i['key']}: {i['reason']}" for i in report[level]] for level in ("errors", "warnings")}


def test_a_dyad_session_exports_to_valid_bids(validator: str, tmp_path: Path) -> None:
    with Recorder.for_session(tmp_path / "rec", subject="D1", session="1", task="therapy") as rec:
        record_simulated_session(rec, 200.0)  # past the resting baseline, with a marker at 0
    out = tmp_path / "bids"
    assert main(["export", str(rec.path), "--to", "bids", "--out", str(out), "--no-progress", *AUTHORS]) == 0
    assert {p.name for p in out.iterdir()} >= {"sub-D1patient", "sub-D1therapist", "derivatives", "README.md"}
    assert _issues(validator, out) == {"errors": [], "warnings": []}


def test_a_labrecorder_eeg_file_exports_to_valid_bids(validator: str, shared_data: Path, tmp_path: Path) -> None:
    source = tmp_path / "sub-P001_ses-S001_task-Default_run-001_eeg.xdf"
    shutil.copy(shared_data / "xdf" / "minimal.xdf", source)
    out = tmp_path / "bids"
    assert main(["export", str(source), "--to", "bids", "--out", str(out), "--no-progress", *AUTHORS]) == 0
    assert (out / "sub-P001" / "ses-S001" / "eeg").is_dir()
    assert _issues(validator, out) == {"errors": [], "warnings": []}
