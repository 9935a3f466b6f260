"""``dyadscope simulate --out``: the simulated dyad as an XDF file, read back with pyxdf and analysed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pyxdf

from dyadscope.sensors.simulate import MODALITIES, SimulatedDyad
from dyadscope.xdf import schema

DYADSCOPE = Path(sys.executable).with_name("dyadscope")
DURATION_S, SEED = 120.0, 3


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(DYADSCOPE), *argv], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "sim.xdf"
    proc = _cli("simulate", "--out", str(path), "--duration", f"{DURATION_S:g}", "--seed", str(SEED), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return path


def test_file_holds_six_streams_with_their_rates_roles_and_modalities(simulated):
    streams, header = pyxdf.load_xdf(str(simulated))
    raw = {s["info"]["name"][0]: s for s in streams if s["info"]["type"][0] in MODALITIES}
    assert len(raw) == 6
    for stream in raw.values():
        modality = stream["info"]["type"][0]
        ours = schema.parse_desc(stream["info"])
        assert ours[schema.MODALITY] == modality and ours[schema.ROLE] in ("patient", "therapist")
        assert stream["info"]["desc"][0][schema.ROLE] == [ours[schema.ROLE]]  # as the live outlet says it
        assert abs(len(stream["time_stamps"]) - DURATION_S * MODALITIES[modality][0]) <= 1
    planted = schema.parse_planted(schema.parse_file_header(header))
    assert planted["seed"] == SEED and planted["rest_s"] == [0.0, DURATION_S]
    assert planted["eda_follow"]["lag_s"] == 2.0
    markers = [s for s in streams if s["info"]["type"][0] == "Markers"]
    assert [m[0] for m in markers[0]["time_series"]] == ["rest begins"]


def test_refuses_existing_file_and_bad_duration(simulated, tmp_path):
    existing = _cli("simulate", "--out", str(simulated), "--duration", "1")
    assert existing.returncode == 2 and "--force" in existing.stderr
    assert _cli("simulate", "--out", str(tmp_path / "x.xdf"), "--duration", "0").returncode == 2
    assert _cli("simulate", "--out", str(simulated / "x.xdf"), "--duration", "1").returncode == 2


def test_analyze_assigns_the_streams_and_recovers_the_planted_heart_rate(simulated, tmp_path):
    out = tmp_path / "out"
    proc = _cli("analyze", str(simulated), "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert sum(use["used"] and use["role"] is not None for use in summary["streams"]) == 6
    (markers,) = [use for use in summary["streams"] if use["name"] == "DyadScope markers"]
    assert markers["used"] and markers["reason"].startswith("markers: kept")  # no role needed, not "assign it"
    rates = pd.read_csv(out / "heart_rate.csv")
    dyad = SimulatedDyad(SEED)
    for role in ("patient", "therapist"):
        mine = rates[rates["role"] == role]
        assert len(mine) > 50
        error = mine["bpm"].to_numpy() - dyad.heart_rate(role, mine["t"].to_numpy())
        assert np.median(np.abs(error)) < 1.5 and np.abs(error).max() < 4.0, role  # measured 0.5-0.7, 2.1
