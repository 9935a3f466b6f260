"""The capture page in a real browser: the people in view see when the session is recorded."""

from __future__ import annotations

import httpx
import pytest
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


@pytest.mark.parametrize(
    ("flags", "problem", "words"),
    [
        (["--use-fake-ui-for-media-stream"], "nodevice", "No camera or microphone was found"),  # no device at all
        (["--use-fake-device-for-media-stream", "--deny-permission-prompts"], "permission", "Allow both for this site"),
    ],
    ids=["no device", "permission denied"],
)
def test_capture_page_says_why_the_camera_cannot_be_opened(make_service, tmp_path, flags, problem, words):
    service = make_service(data_dir=tmp_path / "data")
    created = httpx.post(f"{service.base}/api/sessions", json={"id": "cam", "lsl": False}, headers=service.headers)
    assert created.status_code == 201, created.text
    url = f"{service.base}/capture?session=cam&role=patient&autostart=1#token={service.token}"
    browser = Chromium(url, tmp_path / "profile", flags)
    try:
        seen = browser.wait_for("window.captureState.problem")
        help_text = browser.evaluate("document.getElementById('help').textContent")
        shown = browser.evaluate("document.getElementById('state').textContent")
        state = browser.evaluate("window.captureState")
    finally:
        browser.close()
    assert seen == problem, state
    assert words in help_text and "press Start" in help_text
    assert shown.startswith("cannot capture") and state["reconnects"] == 0, "no reconnect loop"
