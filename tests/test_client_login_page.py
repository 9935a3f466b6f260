"""Logging in from a real browser: the login page, then the rig page on the session cookie alone."""

from __future__ import annotations

import json

from _chromium_support import Chromium

from dyadscope.service.users import UserStore

PASSWORD = "correct horse battery"


def test_an_assistant_logs_in_and_runs_the_rig_without_a_token(simulated_session, tmp_path):
    data = tmp_path / "data"
    UserStore(data / "users.json").add("rita", "assistant", PASSWORD)
    service, _ = simulated_session("room1", seed=9, data_dir=data)
    rig = "/rig?session=room1"
    browser = Chromium(f"{service.base}{rig}", tmp_path / "profile")  # no token in the link
    try:
        link = browser.wait_for("document.querySelector('.login-link:not([hidden])') && "
                                "document.querySelector('.token-form').hidden === false && "
                                "document.querySelector('.login-link').getAttribute('href')")  # fmt: skip
        assert link == "/login?next=" + "%2Frig%3Fsession%3Droom1"
        browser.evaluate(f"location.assign({json.dumps(link)})")
        browser.wait_for("location.pathname === '/login' && document.getElementById('login')?.dataset.ready === '1'")
        fill = "f.elements.name.value = 'rita'; f.elements.password.value = 'wrong password!';"
        browser.evaluate(f"(() => {{ const f = document.getElementById('login'); {fill} f.requestSubmit(); }})()")
        assert browser.wait_for("document.getElementById('message').textContent") == "wrong name or password"
        fill = f"f.elements.name.value = 'rita'; f.elements.password.value = {json.dumps(PASSWORD)};"
        browser.evaluate(f"(() => {{ const f = document.getElementById('login'); {fill} f.requestSubmit(); }})()")
        browser.wait_for("location.pathname === '/rig'")
        rows = "document.querySelectorAll('#streams tr').length"
        assert browser.wait_for(f"{rows} === 6 && {rows}", timeout=40) == 6  # events over the cookie's websocket
        assert browser.evaluate("document.cookie") == ""  # HttpOnly: no script can read the login
    finally:
        browser.close()
