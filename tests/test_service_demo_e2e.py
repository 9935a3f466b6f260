"""The README's first command end to end: `dyadscope demo` as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

from dyadscope.sensors.simulate import SimulatedDyad

DYADSCOPE = Path(sys.executable).with_name("dyadscope")


def _start_demo(tmp_path: Path, duration: float) -> tuple[subprocess.Popen, str]:
    out = (tmp_path / "demo.out").open("w+")
    proc = subprocess.Popen(
        [str(DYADSCOPE), "demo", "--port", "0", "--duration", str(duration), "--no-browser"],
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out.seek(0)
        match = re.search(r"(http://127\.0\.0\.1:\d+/\?session=demo#token=\S+)", out.read())
        if match:
            return proc, match.group(1)
        assert proc.poll() is None, "demo exited before printing its URL"
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("demo did not print its monitor URL within 60 s")


def test_demo_shows_both_heart_rates_live_then_stops_by_itself(tmp_path):
    proc, url = _start_demo(tmp_path, duration=30)
    try:
        port = int(re.search(r":(\d+)/", url).group(1))
        token = url.split("#token=")[1]
        page = httpx.get(url.split("#")[0])
        assert page.status_code == 200 and "DyadScope" in page.text
        heart_rates: dict[str, list[float]] = {"patient": [], "therapist": []}
        seqs = []
        auth = {"Authorization": f"Bearer {token}"}
        with connect(f"ws://127.0.0.1:{port}/ws/sessions/demo", additional_headers=auth) as ws:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and min(len(v) for v in heart_rates.values()) < 5:
                event = json.loads(ws.recv(timeout=10))
                seqs.append(event["seq"])
                if event["kind"] == "heart_rate":
                    heart_rates[event["role"]].append(event["data"]["bpm"])
        assert seqs == list(range(1, len(seqs) + 1)), "events must arrive numbered without gaps"
        truth = SimulatedDyad(1).persons  # the demo's default seed
        for role, values in heart_rates.items():
            assert len(values) >= 5, f"too few heart-rate events for the {role}"
            # resting phase of the simulation: hr0 plus a slow ±2 bpm drift and RSA
            planted = truth[role].hr0
            assert all(abs(bpm - planted) < 8 for bpm in values[1:]), (role, planted, values)
        proc.wait(60)  # --duration ends it
    finally:
        if proc.poll() is None:
            proc.kill()
    output = (tmp_path / "demo.out").read_text()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
