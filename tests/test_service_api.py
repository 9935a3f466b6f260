"""The HTTP API and the resumable websocket, against a real running service."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

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


def _close_code(ws) -> int:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=5)
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
    with connect(running_service.ws_url("s1")) as ws:
        events = _receive(ws, 5)
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
        assert set(events[0]) == {"session", "seq", "t", "t_emit", "kind", "role", "data"}
        assert events[0]["session"] == "s1" and events[0]["kind"] == "heart_rate"
        _emit(running_service, "s1", 2, start_t=100)  # live events follow
        assert [e["seq"] for e in _receive(ws, 2)] == [6, 7]


def test_resume_after_disconnect_gives_exactly_the_missing_events(running_service):
    _open_session(running_service)
    _emit(running_service, "s1", 10)
    with connect(running_service.ws_url("s1")) as ws:
        last = _receive(ws, 10)[-1]["seq"]
    _emit(running_service, "s1", 7, start_t=10)  # while disconnected
    with connect(running_service.ws_url("s1", after=last)) as ws:
        resumed = _receive(ws, 7)
        assert [e["seq"] for e in resumed] == list(range(11, 18))
        assert [e["t"] for e in resumed] == [float(t) for t in range(10, 17)]
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)  # nothing repeated, nothing extra


def test_websocket_rejections_have_clear_close_codes(running_service):
    _open_session(running_service)
    with connect(running_service.ws_url("missing")) as ws:
        assert _close_code(ws) == 4404
    for after in ("-1", "abc", "1.5", "9" * 30):
        with connect(running_service.ws_url("s1", after=after)) as ws:
            assert _close_code(ws) == 4400
    with connect(running_service.ws_url("s1", after=50)) as ws:  # beyond the log
        assert _close_code(ws) == 4400
    with connect(f"ws://127.0.0.1:{running_service.port}/ws/sessions/s1?token=wrong") as ws:
        assert _close_code(ws) == 4401


def test_oversized_client_message_closes_only_that_connection(running_service):
    _open_session(running_service)
    with connect(running_service.ws_url("s1")) as noisy, connect(running_service.ws_url("s1")) as calm:
        noisy.send("x" * 100_000)
        assert _close_code(noisy) in (1009, 1006)
        _emit(running_service, "s1", 1)
        assert _receive(calm, 1)[0]["seq"] == 1
    assert httpx.get(f"{running_service.base}/api/health").status_code == 200


def test_resume_works_the_same_on_a_redis_bus(make_service, redis_url):
    service = make_service(bus=redis_url)
    _open_session(service, "on-redis")
    _emit(service, "on-redis", 4)
    with connect(service.ws_url("on-redis", after=2)) as ws:
        assert [e["seq"] for e in _receive(ws, 2)] == [3, 4]
        _emit(service, "on-redis", 1, start_t=10)
        assert _receive(ws, 1)[0]["t"] == 10.0
