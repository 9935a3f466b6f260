"""The rig page in a real browser: a research assistant's controls against a real session."""

from __future__ import annotations

import json

from _chromium_support import Chromium


def _submit(browser: Chromium, form: str, **values: str) -> None:
    fill = "".join(f"f.elements['{name}'].value = {json.dumps(value)};" for name, value in values.items())
    browser.evaluate(f"(() => {{ const f = document.getElementById('{form}'); {fill} f.requestSubmit(); }})()")


def test_rig_page_shows_streams_and_drives_the_session(simulated_session, tmp_path):
    service, _ = simulated_session("rig1", seed=9, data_dir=tmp_path / "data")
    browser = Chromium(service.service.url("rig1", "rig"), tmp_path / "profile")
    try:
        rows = "document.querySelectorAll('#streams tr').length"
        assert browser.wait_for(f"{rows} === 6 && {rows}", timeout=40) == 6
        states = browser.evaluate("[...document.querySelectorAll('#streams tr')].map(r => r.cells[4].textContent)")
        assert states == ["good"] * 6
        _submit(browser, "marker", text="door opened")
        _submit(browser, "baseline", duration_s="60")
        _submit(browser, "recording", subject="P07", session="2")
        assert "recording sub-P07" in browser.wait_for(
            "document.getElementById('recording-state').textContent", timeout=20
        )
        with service.ws("rig1") as ws:
            kinds = set()
            while not {"marker", "baseline_start", "recording_started"} <= kinds:
                kinds.add(json.loads(ws.recv(timeout=10))["kind"])
        assert list((tmp_path / "data" / "recordings").rglob("*.xdf"))
        _submit(browser, "new-session", id="rig2", patient="P08")
        browser.wait_for("document.getElementById('session').value === 'rig2'")
        assert service.service.manager.get("rig2").participants == {"patient": "P08"}
        assert "error" not in browser.evaluate("document.getElementById('log').innerText")
    finally:
        browser.close()
