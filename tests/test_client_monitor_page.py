"""The monitor page in a real browser: live values for both people, from a real session."""

from __future__ import annotations

from _chromium_support import Chromium

from dyadscope.stream.kinds import codebook_json


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
        assert browser.wait_for(f"{status} === 'missing or wrong access token' && {status}")
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
