"""The capture page in a real browser: the people in view see when the session is recorded."""

from __future__ import annotations

import httpx
from _chromium_support import Chromium


def test_capture_page_shows_while_the_session_is_recorded(simulated_session, tmp_path):
    service, session_id = simulated_session("cam", data_dir=tmp_path / "data")
    url = f"{service.base}/capture?session={session_id}&role=patient#token={service.token}"  # no autostart: no camera
    browser = Chromium(url, tmp_path / "profile")
    api = f"{service.base}/api/sessions/{session_id}/recording"
    try:
        browser.wait_for("window.sessionSocket && window.sessionSocket.status.state === 'live'")
        assert browser.evaluate("window.captureState.recording") is False
        assert browser.evaluate("document.getElementById('recording').hidden") is True
        httpx.post(api, json={"subject": "P09", "session": "1"}, headers=service.headers).raise_for_status()
        browser.wait_for("window.captureState.recording")
        assert browser.evaluate("document.getElementById('recording').hidden") is False
        httpx.delete(api, headers=service.headers).raise_for_status()
        browser.wait_for("!window.captureState.recording")
        assert browser.evaluate("document.getElementById('recording').hidden") is True
    finally:
        browser.close()
