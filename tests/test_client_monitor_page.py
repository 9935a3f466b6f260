"""The monitor page in a real browser: live values for both people, from a real session."""

from __future__ import annotations

from _chromium_support import Chromium


def test_monitor_shows_both_people_live(simulated_session, tmp_path):
    service, session_id = simulated_session("room")
    # the link a person is given, the token in its fragment
    browser = Chromium(service.service.url(session_id), tmp_path / "profile")
    try:
        browser.wait_for("document.getElementById('connection').textContent === 'live'")
        for role in ("patient", "therapist"):
            assert browser.evaluate(f"document.querySelector('.person[data-role={role}] h2').textContent") == role.title()
            cell = f"document.querySelector('.person[data-role={role}] [data-field=bpm]').textContent"
            bpm = browser.wait_for(f"/^[0-9]+$/.test({cell}) && {cell}", timeout=40)
            assert 45 < int(bpm) < 110, (role, bpm)
            breathing = f"document.querySelector('.person[data-role={role}] [data-field=breathing]').textContent"
            assert 6 < float(browser.wait_for(f"/^[0-9.]+$/.test({breathing}) && {breathing}", timeout=40)) < 30
        first = browser.evaluate("window.monitorState.lastSeq")
        assert browser.wait_for(f"window.monitorState.lastSeq > {first} + 10 && window.monitorState.lastSeq")
        assert "Traceback" not in browser.evaluate("document.body.innerText")
    finally:
        browser.close()
