"""People and roles against a real service: every route and the websocket, per role, own and other session."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from dyadscope.service import cmd_users
from dyadscope.service.config import Config
from dyadscope.service.errors import CliError
from dyadscope.service.runner import Service
from dyadscope.service.users import ROLES, UserStore
from dyadscope.service.web_sessions import LOCK_AFTER, WebSessions
from dyadscope.stream.types import Feature

PASSWORD = "correct horse battery"
PEOPLE = {"boss": "admin", "tina": "therapist", "theo": "therapist", "rita": "assistant", "rex": "researcher"}
DYADSCOPE = [sys.executable, "-c", "import sys; from dyadscope.service.cli import main; sys.exit(main())"]


@pytest.fixture
def clinic(make_service, tmp_path):
    """A service with accounts; sessions 'own' (tina's) and 'other' (theo's); each person's API token."""
    store = UserStore(tmp_path / "users.json")
    tokens = {}
    for name, role in PEOPLE.items():
        store.add(name, role, PASSWORD)
        tokens[name] = store.issue_token(name, days=1)[0]
    service = make_service(data_dir=tmp_path)
    boss = {"Authorization": f"Bearer {tokens['boss']}"}
    for session, therapist in (("own", "tina"), ("other", "theo")):
        body = {"id": session, "lsl": False, "therapists": [therapist]}
        assert httpx.post(f"{service.base}/api/sessions", json=body, headers=boss).status_code == 201
        log = service.service.manager.get(session).log
        service.call(log.emit(Feature("heart_rate", "patient", 1.0, {"bpm": 70.0})))
        service.call(log.emit(Feature("marker", None, 2.0, {"text": "door"})))
    return service, tokens, store


# role -> expected status for (route on 'own', the same on 'other'); None: the route takes no session
TABLE = [
    ("GET", "/api/sessions/{s}", None, {"boss": (200, 200), "tina": (200, 403), "rita": (200, 200), "rex": (403, 403)}),
    ("POST", "/api/sessions/{s}/markers", {"text": "x"},
     {"boss": (202, 202), "tina": (202, 403), "rita": (202, 202), "rex": (403, 403)}),
    ("POST", "/api/sessions/{s}/baseline", {"duration_s": 60},
     {"boss": (202, 202), "tina": (202, 403), "rita": (202, 202), "rex": (403, 403)}),
    ("POST", "/api/sessions/{s}/webrtc/offer", {"sdp": "", "type": "offer", "role": "patient"},
     {"boss": (400, 400), "tina": (400, 403), "rita": (400, 400), "rex": (403, 403)}),  # 400: past the check
    ("POST", "/api/sessions/{s}/speakers/enrol", {"role": "patient", "last_s": 30},
     {"boss": (503, 503), "tina": (503, 403), "rita": (503, 503), "rex": (403, 403)}),  # 503: no speaker encoder
    ("DELETE", "/api/sessions/{s}/speakers/patient", None,
     {"boss": (503, 503), "tina": (503, 403), "rita": (503, 503), "rex": (403, 403)}),
    ("GET", "/api/sessions/{s}/speakers", None,
     {"boss": (503, 503), "tina": (503, 403), "rita": (503, 503), "rex": (403, 403)}),  # 503: no speaker encoder
    ("POST", "/api/sessions/{s}/assignments", {},
     {"boss": (422, 422), "tina": (422, 403), "rita": (422, 422), "rex": (403, 403)}),  # 422: past the check
    ("DELETE", "/api/sessions/{s}/recording", None,
     {"boss": (200, 200), "tina": (200, 403), "rita": (200, 200), "rex": (403, 403)}),
    ("POST", "/api/sessions/{s}/recording", {"subject": "not an id!", "session": "1"},
     {"boss": (422, 422), "tina": (422, 403), "rita": (422, 422), "rex": (403, 403)}),
    ("GET", "/api/sessions", None, {"boss": 200, "tina": 200, "rita": 200, "rex": 403}),
    ("GET", "/api/streams", None, {"boss": 200, "tina": 403, "rita": 200, "rex": 403}),
    ("GET", "/api/rigs", None, {"boss": 200, "tina": 403, "rita": 200, "rex": 403}),
    ("PUT", "/api/rigs/room2", {}, {"boss": 422, "tina": 403, "rita": 422, "rex": 403}),
    ("GET", "/api/audit/verify", None, {"boss": 200, "tina": 403, "rita": 403, "rex": 403}),
    ("GET", "/metrics", None, {"boss": 200, "tina": 403, "rita": 403, "rex": 403}),
    ("POST", "/api/sessions", {"id": "new-{who}", "lsl": False}, {"boss": 201, "tina": 403, "rita": 201, "rex": 403}),
    ("GET", "/api/audit", None, {"boss": 200, "tina": 403, "rita": 403, "rex": 403}),
    ("GET", "/api/recordings", None, {"boss": 200, "tina": 403, "rita": 403, "rex": 200}),
    ("GET", "/api/models/metrics", None, {"boss": 503, "tina": 403, "rita": 503, "rex": 403}),  # 503: no engine yet
]  # fmt: skip


@pytest.mark.parametrize(("method", "route", "body", "expected"), TABLE, ids=[f"{m} {r}" for m, r, _, _ in TABLE])
def test_each_role_may_do_what_its_role_allows(clinic, method, route, body, expected):
    service, tokens, _ = clinic
    for who, wanted in expected.items():
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        sessions = ("own", "other") if "{s}" in route else (None,)
        statuses = []
        for session in sessions:
            url = service.base + route.format(s=session)
            payload = json.loads(json.dumps(body).replace("{who}", who)) if body else None
            statuses.append(httpx.request(method, url, json=payload, headers=headers).status_code)
        assert tuple(statuses) == (wanted if isinstance(wanted, tuple) else (wanted,)), who


def test_only_those_who_run_a_session_may_stop_it(clinic):
    service, tokens, _ = clinic
    stop = lambda who, s: httpx.delete(f"{service.base}/api/sessions/{s}",  # noqa: E731
                                       headers={"Authorization": f"Bearer {tokens[who]}"}).status_code  # fmt: skip
    assert (stop("rex", "own"), stop("tina", "other")) == (403, 403)
    assert (stop("tina", "own"), stop("rita", "other")) == (204, 204)
    assert service.service.manager.all() == []


def test_a_therapist_lists_only_their_sessions_and_others_see_no_measures(clinic):
    service, tokens, _ = clinic
    listed = httpx.get(f"{service.base}/api/sessions", headers={"Authorization": f"Bearer {tokens['tina']}"})
    assert [s["id"] for s in listed.json()] == ["own"]

    def events(who: str, session: str) -> list[dict] | int:
        url = f"ws://127.0.0.1:{service.port}/ws/sessions/{session}"
        with connect(url, additional_headers={"Authorization": f"Bearer {tokens[who]}"}) as ws:
            try:
                return [json.loads(ws.recv(timeout=2)) for _ in range(2)]
            except ConnectionClosed as closed:
                return closed.rcvd.code
            except TimeoutError:
                return "timeout"

    assert [e["kind"] for e in events("tina", "own")] == ["heart_rate", "marker"]
    assert events("tina", "other") == 4403 and events("rex", "own") == 4403
    assert [e["kind"] for e in events("boss", "other")] == ["heart_rate", "marker"]
    assert events("rita", "own") == "timeout"  # the marker came (below); the heart rate never does
    url = f"ws://127.0.0.1:{service.port}/ws/sessions/own"
    with connect(url, additional_headers={"Authorization": f"Bearer {tokens['rita']}"}) as ws:
        assert json.loads(ws.recv(timeout=5))["kind"] == "marker"


def test_a_researcher_downloads_finished_recordings_only(clinic):
    service, tokens, _ = clinic
    boss, rex = ({"Authorization": f"Bearer {tokens[who]}"} for who in ("boss", "rex"))
    started = httpx.post(f"{service.base}/api/sessions/own/recording", json={"subject": "P017", "session": "1"},
                         headers=boss).json()  # fmt: skip
    assert httpx.get(f"{service.base}/api/recordings", headers=rex).json() == []  # not finished yet
    busy = httpx.get(f"{service.base}/api/recordings/{started['path']}", headers=rex)
    assert busy.status_code == 409
    httpx.delete(f"{service.base}/api/sessions/own/recording", headers=boss)
    listed = httpx.get(f"{service.base}/api/recordings", headers=rex).json()
    assert [(r["path"], r["session"]) for r in listed] == [(started["path"], "own")]
    file = service.service.config.data_dir / "recordings" / started["path"]
    download = httpx.get(f"{service.base}/api/recordings/{started['path']}", headers=rex)
    assert download.status_code == 200 and download.content == file.read_bytes()
    for outside in ("../users.json", "..%2Fusers.json", "/etc/passwd", "nothing.xdf"):
        assert httpx.get(f"{service.base}/api/recordings/{outside}", headers=rex).status_code == 404, outside
    trail = (service.service.config.data_dir / "audit.jsonl").read_text()
    assert '"recording.download"' in trail and "P017" not in trail


def test_the_shared_token_expired_and_revoked_tokens_are_refused(clinic):
    service, tokens, store = clinic
    get = lambda token: httpx.get(f"{service.base}/api/sessions", headers={"Authorization": f"Bearer {token}"})  # noqa: E731
    assert get(service.token).status_code == 401  # with accounts, the shared token no longer works
    assert get(tokens["rita"]).status_code == 200
    store.revoke_tokens("rita")
    assert get(tokens["rita"]).status_code == 401  # at once: the service re-reads the file
    store.remove("tina")
    assert get(tokens["tina"]).status_code == 401
    data = json.loads(store.path.read_text())
    for entry in data["tokens"].values():
        entry["expires"] = "2020-01-01T00:00:00+00:00"
    store.path.write_text(json.dumps(data))
    assert get(tokens["boss"]).status_code == 401


def test_login_cookie_logout_and_lock(clinic):
    service, _, _ = clinic
    with httpx.Client(base_url=service.base) as browser:
        assert browser.post("/api/login", json={"name": "tina", "password": "wrong password"}).status_code == 401
        ok = browser.post("/api/login", json={"name": "tina", "password": PASSWORD})
        assert ok.status_code == 200 and ok.json() == {"name": "tina", "role": "therapist"}
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get("/api/me").json()["name"] == "tina"
        assert browser.get("/api/sessions/other").status_code == 403
        sid = browser.cookies["dyadscope_session"]
        with connect(f"ws://127.0.0.1:{service.port}/ws/sessions/own",
                     additional_headers={"Cookie": f"dyadscope_session={sid}"}) as ws:  # fmt: skip
            assert json.loads(ws.recv(timeout=5))["kind"] == "heart_rate"
        assert browser.post("/api/logout").status_code == 204
        browser.cookies.set("dyadscope_session", sid)  # the old cookie, kept by an attacker
        assert browser.get("/api/me").status_code == 401
    for _ in range(LOCK_AFTER):
        httpx.post(f"{service.base}/api/login", json={"name": "theo", "password": "guess guess guess"})
    locked = httpx.post(f"{service.base}/api/login", json={"name": "theo", "password": PASSWORD})
    assert locked.status_code == 429  # even the right password, while locked
    entries = [json.loads(line) for line in (service.service.config.data_dir / "audit.jsonl").read_text().splitlines()]
    logins = [(e["user"], e["detail"].get("status")) for e in entries if e["action"] == "login"]
    assert logins[:2] == [("tina", "refused"), ("tina", "ok")] and logins[-1] == ("theo", "locked")
    assert PASSWORD not in json.dumps(entries)


def test_idle_browsers_are_logged_off_on_data_time():
    now = [0.0]
    logins = WebSessions(idle_s=900, lifetime_s=3600, clock=lambda: now[0])
    sid = logins.create("tina")
    now[0] = 899.0
    assert logins.user(sid) == "tina"  # activity: the idle time starts again
    now[0] = 899.0 + 901
    assert logins.user(sid) is None
    sid = logins.create("tina")
    for step in range(1, 5):
        now[0] += 800.0
        assert (logins.user(sid) == "tina") == (step * 800 <= 3600)


def test_beyond_loopback_accounts_are_required(tmp_path):
    config = Config(host="0.0.0.0", port=0, allow_plain_http=True, data_dir=tmp_path).with_token()
    with pytest.raises(CliError, match="users add"):
        Service(config)


def test_users_cli_adds_lists_issues_and_removes(tmp_path):
    env = {**os.environ, "DYADSCOPE_DATA_DIR": str(tmp_path)}
    users = lambda *a, stdin="": subprocess.run([*DYADSCOPE, "users", *a], input=stdin, capture_output=True,  # noqa: E731
                                                text=True, env=env, timeout=60)  # fmt: skip
    assert users("add", "ann", "--role", "admin", stdin=PASSWORD + "\n").returncode == 0
    short = users("add", "bob", "--role", "therapist", stdin="short\n")
    assert short.returncode == 2 and "12 characters" in short.stderr
    assert users("list").stdout == "ann\tadmin\n"
    token = users("token", "ann", "--days", "7").stdout.strip()
    assert UserStore(tmp_path / "users.json").user_for_token(token).name == "ann"
    assert PASSWORD not in (tmp_path / "users.json").read_text() and token not in (tmp_path / "users.json").read_text()
    assert users("remove", "ann").returncode == 0 and users("list").stdout == ""
    actions = [json.loads(line)["action"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert actions == ["user.add", "user.token", "user.remove"]  # list is not a change; the refused add made none
    assert cmd_users.ROLES == ROLES
