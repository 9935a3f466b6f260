"""The HTTP API and the resumable websocket, against a real running service."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from dyadscope.service.auth import AUTH_TIMEOUT_S
from dyadscope.stream.types import Feature


def _open_session(service, session_id: str = "s1") -> None:
    r = httpx.post(f"{service.base}/api/sessions", json={"id": session_id, "lsl": False}, headers=service.headers)
    assert r.status_code == 201, r.text


def _emit(service, session_id: str, n: int, start_t: float = 0.0) -> None:
    session = service.service.manager.get(session_id)

    async def emit() -> None:
        for i in range(n):
            await session.log.emit(Feature("heart_rate", "patient", start_t + i, {"bpm": 60.0 + i}))

    service.call(emit())


def _receive(ws, n: int) -> list[dict]:
    return [json.loads(ws.recv(timeout=5)) for _ in range(n)]


def _close_code(ws, timeout: float = 5) -> int:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=timeout)
    return info.value.rcvd.code


def test_health_needs_no_token(running_service):
    r = httpx.get(f"{running_service.base}/api/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_sessions_crud_and_errors(running_service):
    base, headers = running_service.base, running_service.headers
    assert httpx.get(f"{base}/api/sessions").status_code == 401
    assert httpx.get(f"{base}/api/sessions", headers={"Authorization": "Bearer wrong"}).status_code == 401
    _open_session(running_service, "alpha")
    listed = httpx.get(f"{base}/api/sessions", headers=headers).json()
    assert [s["id"] for s in listed] == ["alpha"]
    one = httpx.get(f"{base}/api/sessions/alpha", headers=headers).json()
    assert one["id"] == "alpha" and one["running"] and one["last_seq"] == 0
    dup = httpx.post(f"{base}/api/sessions", json={"id": "alpha", "lsl": False}, headers=headers)
    assert dup.status_code == 409
    bad = httpx.post(f"{base}/api/sessions", json={"id": "no spaces/allowed", "lsl": False}, headers=headers)
    assert bad.status_code == 422
    assert httpx.get(f"{base}/api/sessions/nope", headers=headers).status_code == 404


def test_websocket_streams_events_in_order(running_service):
    _open_session(running_service)
    _emit(running_service, "s1", 5)
    with running_service.ws("s1") as ws:
        events = _receive(ws, 5)
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
        assert set(events[0]) == {"session", "seq", "t", "t_emit", "kind", "role", "data"}
        assert events[0]["session"] == "s1" and events[0]["kind"] == "heart_rate"
        _emit(running_service, "s1", 2, start_t=100)  # live events follow
        assert [e["seq"] for e in _receive(ws, 2)] == [6, 7]


def test_resume_after_disconnect_gives_exactly_the_missing_events(running_service):
    _open_session(running_service)
    _emit(running_service, "s1", 10)
    with running_service.ws("s1") as ws:
        last = _receive(ws, 10)[-1]["seq"]
    _emit(running_service, "s1", 7, start_t=10)  # while disconnected
    with running_service.ws("s1", after=last) as ws:
        resumed = _receive(ws, 7)
        assert [e["seq"] for e in resumed] == list(range(11, 18))
        assert [e["t"] for e in resumed] == [float(t) for t in range(10, 17)]
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)  # nothing repeated, nothing extra


def test_websocket_rejections_have_clear_close_codes(running_service):
    _open_session(running_service)
    with running_service.ws("missing") as ws:
        assert _close_code(ws) == 4404
    for after in ("-1", "abc", "1.5", "9" * 30):
        with running_service.ws("s1", after=after) as ws:
            assert _close_code(ws) == 4400
    with running_service.ws("s1", after=50) as ws:  # beyond the log
        assert _close_code(ws) == 4400
    wrong = {"Authorization": "Bearer wrong"}
    with connect(running_service.ws_url("s1"), additional_headers=wrong) as ws:
        assert _close_code(ws) == 4401


def test_browsers_authenticate_with_a_first_message_and_only_from_our_pages(running_service):
    _open_session(running_service)
    _emit(running_service, "s1", 2)
    with connect(running_service.ws_url("s1")) as ws:  # as a browser: no header
        ws.send(json.dumps({"type": "auth", "token": running_service.token}))
        assert [e["seq"] for e in _receive(ws, 2)] == [1, 2]
    with connect(running_service.ws_url("s1")) as ws:
        ws.send(json.dumps({"type": "auth", "token": "wrong"}))
        assert _close_code(ws) == 4401
    with connect(running_service.ws_url("s1")) as ws:  # says nothing: refused after the auth timeout
        assert _close_code(ws, timeout=AUTH_TIMEOUT_S + 5) == 4401
    own = {"Origin": running_service.base}
    with connect(running_service.ws_url("s1"), additional_headers={**running_service.headers, **own}) as ws:
        assert _receive(ws, 1)[0]["seq"] == 1
    other = {"Origin": "http://evil.example"}
    with connect(running_service.ws_url("s1"), additional_headers={**running_service.headers, **other}) as ws:
        assert _close_code(ws) == 4403


def test_the_token_is_not_taken_from_urls(running_service):
    r = httpx.get(f"{running_service.base}/api/sessions", params={"token": running_service.token})
    assert r.status_code == 401


def test_oversized_client_message_closes_only_that_connection(running_service):
    _open_session(running_service)
    with running_service.ws("s1") as noisy, running_service.ws("s1") as calm:
        noisy.send("x" * 100_000)
        assert _close_code(noisy) == 1009
        _emit(running_service, "s1", 1)
        assert _receive(calm, 1)[0]["seq"] == 1
    assert httpx.get(f"{running_service.base}/api/health").status_code == 200


def test_resume_works_the_same_on_a_redis_bus(make_service, redis_url):
    service = make_service(bus=redis_url)
    _open_session(service, "on-redis")
    _emit(service, "on-redis", 4)
    with service.ws("on-redis", after=2) as ws:
        assert [e["seq"] for e in _receive(ws, 2)] == [3, 4]
        _emit(service, "on-redis", 1, start_t=10)
        assert _receive(ws, 1)[0]["t"] == 10.0


def test_baseline_marker_and_stop(running_service):
    base, headers = running_service.base, running_service.headers
    created = httpx.post(
        f"{base}/api/sessions",
        json={"id": "s2", "lsl": False, "participants": {"patient": "P-017", "therapist": "T03"}},
        headers=headers,
    )
    assert created.status_code == 201 and created.json()["participants"] == {"patient": "P-017", "therapist": "T03"}
    started = httpx.post(f"{base}/api/sessions/s2/baseline", json={"duration_s": 120}, headers=headers)
    assert started.status_code == 202 and started.json()["roles"] == ["patient", "therapist"]
    assert httpx.post(f"{base}/api/sessions/s2/baseline", json={"duration_s": -1}, headers=headers).status_code == 422
    marked = httpx.post(f"{base}/api/sessions/s2/markers", json={"text": "door opened"}, headers=headers)
    assert marked.status_code == 202
    assert httpx.post(f"{base}/api/sessions/s2/markers", json={"text": "x" * 500}, headers=headers).status_code == 422
    with running_service.ws("s2") as ws:
        events = _receive(ws, 2)
    assert [e["kind"] for e in events] == ["baseline_start", "marker"]
    assert events[0]["data"]["duration_s"] == 120 and events[1]["data"]["text"] == "door opened"
    assert httpx.delete(f"{base}/api/sessions/s2", headers=headers).status_code == 204
    assert httpx.get(f"{base}/api/sessions/s2", headers=headers).status_code == 404


def test_identifying_participant_ids_are_refused(running_service):
    for bad in ("Jane Doe", "jane@example.org", "x" * 65):
        r = httpx.post(
            f"{running_service.base}/api/sessions",
            json={"id": "s3", "lsl": False, "participants": {"patient": bad}},
            headers=running_service.headers,
        )
        assert r.status_code == 422, bad
    r = httpx.post(
        f"{running_service.base}/api/sessions",
        json={"id": "s3", "lsl": False, "participants": {"nurse": "N1"}},
        headers=running_service.headers,
    )
    assert r.status_code == 422


def test_sessions_build_each_persons_history_and_then_deviations(make_service, tmp_path):
    from dyadscope.stream.processors.physio.history import History

    service = make_service(data_dir=tmp_path)
    base, headers = service.base, service.headers

    def run_session(session_id: str, bpm: float) -> list[dict]:
        body = {"id": session_id, "lsl": False, "participants": {"patient": "P1"}}
        assert httpx.post(f"{base}/api/sessions", json=body, headers=headers).status_code == 201
        session = service.service.manager.get(session_id)
        beats = [Feature("heart_rate", "patient", float(t), {"bpm": bpm, "quality": "good"}) for t in range(5)]
        service.call(session.publish(beats))
        with service.ws(session_id) as ws:
            events = [json.loads(ws.recv(timeout=5)) for _ in range(5)]
            try:
                while True:
                    events.append(json.loads(ws.recv(timeout=0.5)))
            except TimeoutError:
                pass
        assert httpx.delete(f"{base}/api/sessions/{session_id}", headers=headers).status_code == 204
        return events

    for n, bpm in enumerate((70.0, 74.0, 72.0)):
        events = run_session(f"past{n}", bpm)
        assert not [e for e in events if e["kind"] == "deviation"], "no norm before three past sessions"
    with History(tmp_path) as history:
        past = history.sessions("P1")
    assert sorted(key.split("-")[0] for key in past) == ["past0", "past1", "past2"]
    assert next(v for k, v in past.items() if k.startswith("past1-"))["session_heart_rate_bpm"] == 74.0
    deviations = [e for e in run_session("today", 80.0) if e["kind"] == "deviation"]
    assert deviations and deviations[0]["role"] == "patient"
    assert deviations[0]["data"]["measure"] == "session_heart_rate_bpm"
    assert deviations[0]["data"]["z"] == pytest.approx((80.0 - 72.0) / 2.0)


def test_two_creates_of_one_id_at_once_give_one_session(running_service):
    import asyncio

    from dyadscope.service.sessions import SessionExists

    manager = running_service.service.manager

    async def both():
        return await asyncio.gather(*(manager.create("twin", lsl=False) for _ in range(2)), return_exceptions=True)

    outcomes = running_service.call(both())
    assert sum(isinstance(o, SessionExists) for o in outcomes) == 1
    assert [s.id for s in manager.all()] == ["twin"]


def test_a_reused_session_id_starts_a_clean_log(running_service):
    _open_session(running_service, "room")
    _emit(running_service, "room", 3)
    assert httpx.delete(f"{running_service.base}/api/sessions/room", headers=running_service.headers).status_code == 204
    _open_session(running_service, "room")
    _emit(running_service, "room", 1, start_t=50)
    with running_service.ws("room") as ws:
        first = _receive(ws, 1)[0]
        assert (first["seq"], first["t"]) == (1, 50.0)  # nothing of the earlier session
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)
