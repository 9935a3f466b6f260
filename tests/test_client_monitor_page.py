"""The monitor page in a real browser: live values for both people, from a real session."""

from __future__ import annotations

from _chromium_support import Chromium

from dyadscope.stream.kinds import codebook_json
from dyadscope.stream.types import Feature


def test_monitor_shows_both_people_live(simulated_session, tmp_path):
    service, session_id = simulated_session("room")
    # the link a person is given, the token in its fragment
    browser = Chromium(service.service.url(session_id), tmp_path / "profile")
    try:
        browser.wait_for("document.getElementById('connection').textContent === 'live'")
        for role in ("patient", "therapist"):
            assert (
                browser.evaluate(f"document.querySelector('.person[data-role={role}] h2').textContent") == role.title()
            )
            cell = f"document.querySelector('.person[data-role={role}] [data-field=bpm]').textContent"
            bpm = browser.wait_for(f"/^[0-9]+$/.test({cell}) && {cell}", timeout=40)
            assert 45 < int(bpm) < 110, (role, bpm)
            breathing = f"document.querySelector('.person[data-role={role}] [data-field=breathing]').textContent"
            assert 6 < float(browser.wait_for(f"/^[0-9.]+$/.test({breathing}) && {breathing}", timeout=40)) < 30
        first = browser.evaluate("window.monitorState.lastSeq")
        assert browser.wait_for(f"window.monitorState.lastSeq > {first} + 10 && window.monitorState.lastSeq")
        assert "Traceback" not in browser.evaluate("document.body.innerText")
        # labels from the served codebook, which knows every kind the session sent
        units = browser.evaluate(
            "[...document.querySelectorAll('[data-unit]')].map(e => [e.dataset.unit, e.textContent])"
        )
        kinds = codebook_json()["kinds"]
        assert len(units) == 8  # four per person
        for key, text in units:
            kind, field = key.split(".")
            assert text == kinds[kind]["fields"][field]["unit"], key
        assert browser.evaluate("[...codebook.missing]") == []
    finally:
        browser.close()


def test_monitor_asks_for_a_missing_token_and_says_when_a_session_is_unknown(running_service, tmp_path):
    service = running_service
    service.call(service.service.manager.create("quiet", select=lambda info: False))
    page = service.service.url("quiet").split("#")[0]  # the link without its token
    browser = Chromium(page, tmp_path / "profile")
    try:
        status = "document.getElementById('connection').textContent"
        assert browser.wait_for(f"{status} === 'log in, or give a valid access token' && {status}")
        assert browser.evaluate("document.querySelector('.token-form').hidden") is False
        browser.evaluate(
            f"(() => {{ const f = document.querySelector('.token-form');"
            f" f.elements[0].value = {service.token!r}; f.requestSubmit(); }})()"
        )
        browser.wait_for(f"{status} === 'live'")
        assert browser.evaluate("document.querySelector('.token-form').hidden") is True
        assert service.token not in browser.evaluate("location.search")  # kept in the fragment only
        browser.evaluate(f"location.href = {service.service.url('nobody')!r}")
        assert browser.wait_for(f"{status}.startsWith('no session nobody; retrying in') && {status}")
        assert browser.evaluate("document.getElementById('connection').className") == "state lost"
    finally:
        browser.close()


def sync(modality: str, t: float, **data) -> Feature:
    base = {
        "modality": modality,
        "r": 0.1,
        "abs_r": 0.1,
        "z": 0.1,
        "lag_s": 0.0,
        "leader": None,
        "at_edge": False,
        "window_s": 45.0,
        "max_lag_s": 4.0,
        "t_center": t - 25,
        "chance_r": None,
        "p": None,
        "above_chance": None,
        "baseline_n": 0,
    }
    return Feature("sync", None, t, base | data)


def dissonance(t: float, episode_start: float, units: int) -> Feature:
    data = {
        "status": "judged",
        "reason": None,
        "scale": "relative",
        "dissonant": True,
        "direction": "face calm, voice aroused",
        "size": 1.6,
        "score": 3.2,
        "threshold": 2.0,
        "dimensions": ["arousal"],
        "crossed": ["arousal"],
        "episode": {"start": episode_start, "end": t, "units": units},
    }
    return Feature("dissonance", "patient", t, data)


def test_monitor_says_synchrony_rsa_and_dissonance_in_words(running_service, tmp_path):
    service = running_service
    service.call(service.service.manager.create("words", select=lambda info: False))
    session = service.service.manager.get("words")
    chance = {"chance_r": 0.41, "p": 0.01, "above_chance": True, "baseline_n": 38}
    features = [
        sync("eda", 300.0, r=0.62, abs_r=0.62, lag_s=2.0, leader="patient", **chance),
        Feature(
            "sync_state",
            None,
            300.0,
            {"modality": "eda", "state": "in_sync", "since": 270.0, "previous": "out_of_sync"},
        ),
        sync("heart_rate", 300.0),  # the chance level is still being learnt
        sync("rsa", 300.0, **(chance | {"above_chance": False, "p": 0.4})),
        Feature(
            "sync_state", None, 300.0, {"modality": "rsa", "state": "out_of_sync", "since": 250.0, "previous": None}
        ),
        Feature("rsa", "patient", 300.0, {"p2t_mean_ms": 31.0, "reactivity_p2t_ms": -12.0}),
        dissonance(301.0, 299.0, 1),
        dissonance(303.0, 299.0, 2),  # the same episode: one line, updated
        Feature(
            "desync_flag",
            None,
            305.0,
            {"modality": "movement", "since": 170.0, "out_of_sync_s": 130.0, "in_sync_s": 180.0},
        ),
        Feature("stream_lost", None, 305.0, {"stream": "Polar H10"}),  # rig plumbing: not on this page
    ]
    service.call(session.publish(features))
    browser = Chromium(service.service.url("words"), tmp_path / "profile")
    try:
        browser.wait_for("document.querySelectorAll('#flag-list li').length === 2")
        rows = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#sync-rows tr')]"
            ".map(r => [r.dataset.modality, r.querySelector('summary').textContent]))"
        )
        assert rows == {
            "eda": "in sync — therapist follows by 2.0 s",
            "heart_rate": "not enough signal yet",
            "rsa": "apart",
        }
        detail = browser.evaluate("document.querySelector('#sync-rows tr[data-modality=eda] .detail').textContent")
        assert "Chance level 0.41" in detail and "38 pairings" in detail and "chance level)" not in detail
        rsa = "document.querySelector('.person[data-role=patient] [data-field=rsa-reactivity]').textContent"
        assert browser.evaluate(rsa) == "12 ms below rest (less vagal calming)"
        flags = browser.evaluate("[...document.querySelectorAll('#flag-list li')].map(li => li.textContent)")
        assert "movement: apart for 2 min after 3 min in sync" in flags[0]
        assert "patient: face calm, voice aroused — 2 speech units, 1.6× the threshold" in flags[1]
        assert browser.evaluate("document.getElementById('face-voice').textContent") == (
            "face and voice differ: face calm, voice aroused"
        )
        text = browser.evaluate("document.body.innerText")
        assert "Polar H10" not in text and "Rig" not in text
    finally:
        browser.close()
