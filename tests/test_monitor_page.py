"""The monitor page in a real browser: live values for both people, from a real session."""

from __future__ import annotations

import uuid

from _chromium_support import Chromium

from dyadscope.sensors.lsl import local_clock
from dyadscope.sensors.lsl_outlets import LslPublisher
from dyadscope.sensors.simulate import SimulatedDyad


def test_monitor_shows_both_people_live(make_service, tmp_path):
    service = make_service()
    tag = uuid.uuid4().hex[:8]
    publisher = LslPublisher(SimulatedDyad(5, start_time=local_clock(), tag=tag))
    ours = {info.source_id for info in publisher.streams}
    publisher.start()
    browser = None
    try:
        service.call(service.service.manager.create("room", select=lambda info: info.source_id in ours))
        url = service.service.url("room")  # the link a person is given, token in the fragment
        browser = Chromium(url, tmp_path / "profile")
        browser.wait_for("document.getElementById('connection').textContent === 'live'")
        for role in ("patient", "therapist"):
            cell = f"document.querySelector('.person[data-role={role}] [data-field=bpm]').textContent"
            bpm = browser.wait_for(f"/^[0-9]+$/.test({cell}) && {cell}", timeout=40)
            assert 45 < int(bpm) < 110, (role, bpm)
            breathing = f"document.querySelector('.person[data-role={role}] [data-field=breathing]').textContent"
            assert 6 < float(browser.wait_for(f"/^[0-9.]+$/.test({breathing}) && {breathing}", timeout=40)) < 30
        first = browser.evaluate("window.monitorState.lastSeq")
        assert browser.wait_for(f"window.monitorState.lastSeq > {first} + 10 && window.monitorState.lastSeq")
        assert "Traceback" not in browser.evaluate("document.body.innerText")
    finally:
        if browser is not None:
            browser.close()
        publisher.stop()
