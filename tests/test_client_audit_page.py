"""The admin's audit page in a real browser: the trail's entries, whether its chain holds, refusals for others."""

from __future__ import annotations

import json

from _chromium_support import Chromium

from dyadscope.service.users import UserStore

PASSWORD = "correct horse battery"


def _log_in(browser: Chromium, name: str) -> None:
    """Log in from the page's own origin (the cookie is HttpOnly), then open the audit page."""
    body = json.dumps({"name": name, "password": PASSWORD})
    browser.evaluate(f"fetch('/api/login', {{method: 'POST', headers: {{'Content-Type': 'application/json'}}, "
                     f"body: {json.dumps(body)}}}).then(() => location.assign('/audit'))")  # fmt: skip


def test_the_admin_sees_the_trail_and_a_broken_chain(make_service, tmp_path):
    store = UserStore(tmp_path / "users.json")
    store.add("boss", "admin", PASSWORD)
    store.add("rita", "assistant", PASSWORD)
    service = make_service(data_dir=tmp_path)
    browser = Chromium(f"{service.base}/login", tmp_path / "profile")
    try:
        # the login page itself, not the about:blank Chromium starts on (also 'complete'), where fetch has no origin
        browser.wait_for("location.pathname === '/login' && document.readyState === 'complete'")
        _log_in(browser, "boss")
        shown = "document.getElementById('filter').dataset.shown"
        browser.wait_for(f"location.pathname === '/audit' && {shown} === '1'")
        actions = browser.evaluate(
            "[...document.querySelectorAll('#entries tr td:nth-child(4)')].map(td => td.textContent)"
        )
        assert actions[0] == "login"  # the trail starts with this login
        assert browser.evaluate("document.getElementById('verdict').className") == "ok"
        trail = tmp_path / "audit.jsonl"
        lines = trail.read_text().splitlines()
        lines[0] = lines[0].replace('"login"', '"logout"')  # someone edits the first entry
        trail.write_text("\n".join(lines) + "\n")
        browser.evaluate("document.getElementById('filter').requestSubmit()")
        browser.wait_for(f"{shown} === '2'")
        assert browser.evaluate("document.getElementById('verdict').className") == "broken"
        assert "line 1 was changed" in browser.evaluate("document.getElementById('verdict').textContent")
        browser.evaluate("fetch('/api/logout', {method: 'POST'}).then(() => location.assign('/login'))")
        browser.wait_for("location.pathname === '/login' && document.readyState === 'complete'")
        _log_in(browser, "rita")
        browser.wait_for(f"location.pathname === '/audit' && {shown} === '1'")
        message = browser.evaluate("document.getElementById('message').textContent")
        assert message == "only an admin may read the audit trail"
        assert browser.evaluate("document.querySelectorAll('#entries tr').length") == 0
    finally:
        browser.close()
