"""The pages across a service restart: a new event log under the same session id.

The page's last ``seq`` is stale then; it must start over from the new log's
first event (a baseline posted right after the restart, below the old ``seq``,
shows) and go on past the old number, not resume from it.
"""

from __future__ import annotations

import json

import httpx
import pytest
from _chromium_support import Chromium

from dyadscope.stream.events import events_topic

SESSION = "again"
#: The old log's length before the restart: the new log's baseline lands below it.
OLD_EVENTS = 100
BASELINE = "document.getElementById('baseline-state').textContent"
#: The rig page's baseline per role: its length (s), for each role counting down or done.
DURATIONS = "[...document.querySelectorAll('#baseline-state .baseline-role')].map(e => e.dataset.duration).join()"
LAST_SEQ = "window.sessionSocket && window.sessionSocket.lastSeq"


def _post(service, what: str, body: dict) -> None:
    httpx.post(f"{service.base}/api/sessions/{SESSION}/{what}", json=body, headers=service.headers).raise_for_status()


def _baseline(service, duration_s: int) -> int:
    """Start a resting baseline; the ``seq`` of its ``baseline_start`` event."""
    _post(service, "baseline", {"duration_s": duration_s})
    with service.ws(SESSION) as ws:
        while True:
            event = json.loads(ws.recv(timeout=10))
            if event["kind"] == "baseline_start" and event["data"]["duration_s"] == duration_s:
                return event["seq"]


def _last_seq(service) -> int:
    return service.call(service.service.manager.bus.bounds(events_topic(SESSION)))[1]


def _stream_names(service) -> list[str]:
    return sorted(s["name"] for s in service.service.manager.get(SESSION).describe()["streams"])


@pytest.mark.parametrize(
    ("page", "away"),
    [("rig", False), ("", False), ("rig", True)],
    ids=["rig", "monitor", "rig-away-while-the-new-log-passes-the-old-seq"],
)
def test_page_starts_over_after_a_service_restart(simulated_session, tmp_path, page, away):
    old, _ = simulated_session(SESSION, seed=3)
    browser = Chromium(old.service.url(SESSION, page), tmp_path / "profile")
    try:
        old_seq = browser.wait_for(f"{LAST_SEQ} >= {OLD_EVENTS} && {LAST_SEQ}", timeout=60)
        if away:  # a tablet asleep: it comes back only once the new log is past its old seq
            browser.evaluate("window.sessionSocket.close()")
            old_seq = browser.evaluate(LAST_SEQ)
        old.call(old.service.stop())
        new, _ = simulated_session(SESSION, seed=4, port=old.port, token=old.token)
        assert _baseline(new, 3600) < old_seq  # the event a stale resume would skip
        if away:
            while _last_seq(new) <= old_seq:
                _post(new, "markers", {"text": "while the tablet slept"})
            browser.evaluate("window.sessionSocket.open()")
        first = browser.wait_for(f"{BASELINE} !== '' && {BASELINE}", timeout=40)
        if page == "rig":
            assert browser.evaluate(DURATIONS) == "3600,3600"
        browser.wait_for(f"{LAST_SEQ} > {old_seq}", timeout=60)
        _baseline(new, 10)  # past the old seq
        if page != "rig":
            browser.wait_for(f"{BASELINE} !== {json.dumps(first)}", timeout=20)
        else:
            browser.wait_for(f"{DURATIONS} === '10,10'", timeout=20)
            names = _stream_names(new)
            assert len(names) == 6
            rows = "[...document.querySelectorAll('#streams tr')].map(r => r.cells[0].textContent).join()"
            assert browser.wait_for(f"{rows} === {json.dumps(','.join(names))} && {rows}", timeout=30)
        assert browser.evaluate("document.getElementById('connection').textContent") == "live"
    finally:
        browser.close()
