"""The rig page in a real browser: a research assistant's controls against a real session."""

from __future__ import annotations

import json

import httpx
from _chromium_support import Chromium
from _models_support import default_models


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


def test_rig_page_enrols_a_voice_over_a_window_of_the_session_clock(make_service, tmp_path_factory, tmp_path):
    service = make_service(model_dir=default_models(tmp_path_factory.mktemp("models")))
    service.call(service.service.manager.create("voices", select=lambda info: False))
    browser = Chromium(service.service.url("voices", "rig"), tmp_path / "profile")
    try:
        browser.wait_for("document.getElementById('session').value === 'voices'")
        before = service.service.app.state.webrtc.clock()
        _submit(browser, "enrol", role="therapist", when="duration_s", seconds="40")
        item = "document.querySelector('#voices li[data-role=therapist]')"
        text = browser.wait_for(f"{item} && {item}.textContent", timeout=60)  # the first use loads the models
        assert text == "therapist: 0 s of speech enrolled (10 s or more is better)"
        state = httpx.get(f"{service.base}/api/sessions/voices/speakers", headers=service.headers).json()
        ((start, end),) = state["therapist"]["windows"]
        assert start >= before and end - start == 40
        browser.evaluate("document.querySelector('#enrol [name=role]').value = 'therapist'")
        browser.evaluate("document.querySelector('#enrol [name=forget]').click()")
        browser.wait_for("document.getElementById('voices').textContent === 'no voice enrolled'")
        assert "error" not in browser.evaluate("document.getElementById('log').innerText")
    finally:
        browser.close()
