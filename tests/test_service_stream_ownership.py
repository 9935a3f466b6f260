"""Sessions own their streams: two simulated dyads on one network, each session gets its own six, live."""

from __future__ import annotations

import json
import os
import stat
import uuid

import httpx
import numpy as np
from _lsl_support import SignalSource, stream_info, wait_for

from dyadscope.sensors.lsl_outlets import LslPublisher


def _session(service, session_id: str) -> dict:
    return httpx.get(f"{service.base}/api/sessions/{session_id}", headers=service.headers).json()


def _keys(service, session_id: str) -> set[str]:
    return {s["source_id"] for s in _session(service, session_id)["streams"]}


def test_bad_selections_and_profile_names_are_refused(make_service, tmp_path):
    service = make_service(data_dir=tmp_path / "data")
    api = httpx.Client(base_url=service.base, headers=service.headers)
    for bad in ({"streams": ["name:"]}, {"required": ["patient"]}, {"assign": ["x"]}, {"profile": "nowhere"}):
        reply = api.post("/api/sessions", json={"id": "bad", **bad})
        assert reply.status_code == 422 and reply.json()["detail"], bad
    assert api.put("/api/rigs/..bad", json={}).status_code == 422
    assert api.get("/api/rigs/nowhere").status_code == 404
    assert service.service.manager.get("bad") is None


def test_two_sessions_take_their_own_dyad_and_never_the_same_stream(make_service, two_dyads, tmp_path):
    service = make_service(data_dir=tmp_path / "data")
    (tag_a, pub_a), (tag_b, pub_b) = two_dyads.items()
    ours_a = {i.source_id for i in pub_a.streams}
    ours_b = {i.source_id for i in pub_b.streams}
    api = httpx.Client(base_url=service.base, headers=service.headers)
    # a by patterns in the request, b by a saved rig profile
    reply = api.post("/api/sessions", json={"id": "a", "streams": [f"name:* {tag_a}"], "required": ["patient:ECG"]})
    assert reply.status_code == 201, reply.text
    wait_for(lambda: _keys(service, "a") == ours_a, timeout=30, what="session a has dyad A's six streams")
    # selection happens before inlets: dyad B's outlets were never opened
    wait_for(lambda: all(pub_a.consumers().values()), timeout=20, what="dyad A's outlets are pulled")
    assert not any(pub_b.consumers().values())
    profile = {"streams": [f"source_id:*-{tag_b}"], "assign": [], "required": ["therapist:EDA"]}
    assert api.put("/api/rigs/room-b", json=profile).status_code == 200
    path = tmp_path / "data" / "rigs" / "room-b.json"
    assert json.loads(path.read_text())["streams"] == profile["streams"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert api.get("/api/rigs").json() == {"room-b": profile}
    assert api.post("/api/sessions", json={"id": "b", "profile": "room-b"}).status_code == 201
    wait_for(lambda: _keys(service, "b") == ours_b, timeout=30, what="session b has dyad B's six streams")
    described = _session(service, "b")
    assert described["profile"] == "room-b" and described["selection"]["required"] == ["therapist:EDA"]
    # the profile is one room's: a second session on it is refused
    assert api.post("/api/sessions", json={"id": "b2", "profile": "room-b"}).status_code == 409
    # a session that takes everything gets nothing another session holds, and says so
    assert api.post("/api/sessions", json={"id": "c"}).status_code == 201
    with service.ws("c") as ws:
        claimed = set()
        while len(claimed) < 12:
            event = json.loads(ws.recv(timeout=20))
            assert event["kind"] in ("stream_invalid", "clock_offset", "stream_found", "stream_preview")
            assert event["kind"] == "stream_invalid", f"session c took {event['data'].get('stream')}"
            assert event["data"]["problem"] == "claimed"
            claimed.add(event["data"]["stream"])
    assert _keys(service, "c") == set()
    # every stream stays visible, with who holds it
    network = {s["source_id"]: s["session"] for s in api.get("/api/streams").json()}
    assert {k: network[k] for k in ours_a | ours_b} == {**dict.fromkeys(ours_a, "a"), **dict.fromkeys(ours_b, "b")}
    # each session's live events are about its own dyad only
    for session_id, tag in (("a", tag_a), ("b", tag_b)):
        with service.ws(session_id) as ws:
            previews = {}
            while len(previews) < 6:
                event = json.loads(ws.recv(timeout=20))
                if "stream" in event["data"]:
                    assert event["data"]["stream"].endswith(tag)
                if event["kind"] == "stream_preview":
                    previews[event["data"]["stream"]] = event["data"]
        (declared,) = [i for i in two_dyads[tag].streams if i.role == "patient" and i.modality == "ECG"]
        ecg = previews[declared.name]
        assert ecg["nominal_rate"] == declared.nominal_rate and ecg["samples"] > 0 and ecg["dropouts"] == 0
        assert len(ecg["lo"]) == len(ecg["hi"]) >= 5 and max(ecg["hi"]) > min(ecg["lo"])
    # a stopped session gives its streams back
    assert api.delete("/api/sessions/a").status_code == 204
    api.post("/api/sessions", json={"id": "a2", "streams": [f"name:* {tag_a}"]})
    wait_for(lambda: _keys(service, "a2") == ours_a, timeout=30, what="dyad A's streams go to the next session")


def test_a_stream_nobody_can_tell_is_listed_and_assigned_at_run_time(make_service, tmp_path):
    tag = uuid.uuid4().hex[:8]
    info = stream_info(tag, "HeartyPatch", "ECG", role=None, nominal_rate=128.0)
    publisher = LslPublisher(SignalSource(info, 128.0, lambda n: np.sin(n / 20.0)))
    publisher.start()
    service = make_service(data_dir=tmp_path / "data")
    api = httpx.Client(base_url=service.base, headers=service.headers)
    try:
        assert api.post("/api/sessions", json={"id": "u", "streams": [f"*-{tag}"]}).status_code == 201
        wait_for(
            lambda: [s["name"] for s in _session(service, "u")["unassigned"]] == [info.name],
            timeout=30,
            what="the stream is listed as unassigned",
        )
        for role, modality in (("nobody", "ECG"), ("patient", "Markers")):
            body = {"stream": info.name, "role": role, "modality": modality}
            assert api.post("/api/sessions/u/assignments", json=body).status_code == 422
        reply = api.post(
            "/api/sessions/u/assignments", json={"stream": info.name, "role": "patient", "modality": "ECG"}
        )
        assert reply.status_code == 201, reply.text
        assert reply.json()["assignments"] == [f"{info.name}=patient:ECG"]
        wait_for(lambda: _session(service, "u")["streams"], timeout=30, what="the assigned stream is ingested")
        (stream,) = _session(service, "u")["streams"]
        assert (stream["role"], stream["modality"], stream["source_id"]) == ("patient", "ECG", info.source_id)
        assert _session(service, "u")["unassigned"] == []
        audit = service.service.app.state.audit
        assert "stream.assign" in {entry["action"] for entry in audit.last(50)}
    finally:
        publisher.stop()
