"""The monitor page in a real browser: live values for both people, from a real session."""

from __future__ import annotations

import math

import pytest
from _chromium_support import Chromium

from dyadscope.stream.kinds import codebook_json
from dyadscope.stream.processors.dyadic.talk_balance import TalkBalance
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


def _face_and_voice(seconds: float) -> list[Feature]:
    """Both people's smoothed face values (7.5 per second) and speech units; the patient speaks 3 s in 4."""
    features = []
    for k in range(int(seconds * 7.5)):
        t = 100.0 + k / 7.5
        for role, valence in (("patient", -0.4), ("therapist", 0.3)):
            data = {"valence": valence + 0.05 * math.sin(t), "arousal": 0.2 * math.cos(t / 4)}
            features.append(Feature("face_affect", role, t, data))
    for k in range(int(seconds / 4)):
        start = 100.0 + 4 * k
        units = (("patient", start, start + 3.0, 0.6), ("therapist", start + 3.2, start + 3.9, -0.2))
        for role, s, e, arousal in units:
            features.append(
                Feature("voice_segment", role, e, {"start": s, "end": e, "duration_s": e - s, "arousal": arousal})
            )
    return sorted(features, key=lambda f: f.t)


def test_monitor_draws_face_and_voice_traces_and_the_talk_balance_the_service_computes(running_service, tmp_path):
    service = running_service
    service.call(service.service.manager.create("talk", select=lambda info: False))
    session = service.service.manager.get("talk")
    features = _face_and_voice(120.0)
    service.call(session.publish(features))  # the session's pipeline adds talk_balance
    offline = TalkBalance()
    last = [b for f in features if f.kind == "voice_segment" for b in offline.consume(f)][-1]
    assert abs(last.data["share"]["patient"] - 3.0 / 3.7) < 0.01  # 3 s against 0.7 s in every 4 s
    browser = Chromium(service.service.url("talk"), tmp_path / "profile")
    try:
        browser.wait_for(f"window.monitorAffect.talkT === {last.t}")
        percent = {r: round(100 * last.data["share"][r]) for r in ("patient", "therapist")}
        assert browser.evaluate("document.getElementById('talk-balance').textContent") == (
            f"talk balance, last 5 min: patient {percent['patient']} % · therapist {percent['therapist']} %"
        )
        points = browser.evaluate("window.monitorAffect.points()")
        for role, valence in (("patient", -0.4), ("therapist", 0.3)):
            face = points[role]["face_valence"]
            assert 55 <= len(face) <= 61  # one point per 2 s of 120 s: calm, not every frame
            assert all(abs(v - valence) <= 0.05 for _, v in face)
            assert len(points[role]["face_arousal"]) == len(face)
            assert len(points[role]["voice_arousal"]) == 30
        drawn = browser.evaluate(
            "[...document.querySelectorAll('canvas.affect')].map(c => c.getContext('2d')"
            ".getImageData(0, 0, c.width, c.height).data.filter((v, i) => i % 4 === 3 && v > 0).length)"
        )
        assert len(drawn) == 2 and all(n > 2000 for n in drawn), drawn
        bar = browser.evaluate("getComputedStyle(document.querySelector('.talk-bar [data-role=patient]')).flexGrow")
        assert float(bar) == pytest.approx(last.data["share"]["patient"], abs=1e-3)
    finally:
        browser.close()
