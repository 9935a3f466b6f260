"""``GET /metrics`` against a real service: who may read it, and what it says during a live simulated session."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import numpy as np
import pytest
import skimage.data
from _models_support import default_models
from prometheus_client.parser import text_string_to_metric_families

from dyadscope.service.users import UserStore

PASSWORD = "correct horse battery"
METRICS_TOKEN = "scrape-me-0123456789abcdef"
FAMILIES = {
    "dyadscope_sessions": "gauge",
    "dyadscope_streams": "gauge",
    "dyadscope_events": "counter",
    "dyadscope_websocket_clients": "gauge",
    "dyadscope_ingest_queue_depth": "gauge",
    "dyadscope_ingest_queue_depth_max": "gauge",
    "dyadscope_ingest_queue_capacity": "gauge",
    "dyadscope_recordings": "gauge",
    "dyadscope_recorder_pending_bytes": "gauge",
    "dyadscope_recordings_behind": "gauge",
    "dyadscope_models_loaded": "gauge",
    "dyadscope_model_queue_depth": "gauge",
    "dyadscope_model_batches": "counter",
    "dyadscope_model_items": "counter",
    "dyadscope_model_batch_size": "gauge",
    "dyadscope_model_inference_seconds": "gauge",
    "process_open_fds": "gauge",
}


def scrape(service, headers=None) -> dict[str, dict[tuple, float]]:
    """The parsed exposition, sample name -> {sorted label items: value}; fails unless valid with every family."""
    reply = httpx.get(f"{service.base}/metrics", headers=service.headers if headers is None else headers)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(reply.text)}
    missing = {name for name, kind in FAMILIES.items() if name not in families or families[name].type != kind}
    assert not missing, f"families missing or of another type: {missing}"
    samples: dict[str, dict[tuple, float]] = {}
    for family in families.values():
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(metrics, name: str, **labels) -> float:
    return metrics[name][tuple(sorted(labels.items()))]


def eventually(check, timeout: float = 60.0):
    """``check()``'s first truthy result, polled (a busy machine may take long; nothing is timed)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.2)
    return result


def test_metrics_need_an_admin_or_the_metrics_token(make_service, tmp_path):
    store = UserStore(tmp_path / "users.json")
    tokens = {}
    for name, role in (("boss", "admin"), ("tina", "therapist"), ("rita", "assistant"), ("rex", "researcher")):
        store.add(name, role, PASSWORD)
        tokens[name] = store.issue_token(name, days=1)[0]
    service = make_service(data_dir=tmp_path, metrics_token=METRICS_TOKEN)
    url = f"{service.base}/metrics"

    def status(token: str | None) -> int:
        return httpx.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}).status_code

    assert status(None) == 401
    assert status("not-a-token-of-anyone-at-all") == 401
    assert {name: status(tokens[name]) for name in ("tina", "rita", "rex")} == {"tina": 403, "rita": 403, "rex": 403}
    assert status(tokens["boss"]) == 200
    assert status(METRICS_TOKEN) == 200
    asked = {"Authorization": f"Bearer {METRICS_TOKEN}", "Accept": "application/openmetrics-text; version=1.0.0"}
    openmetrics = httpx.get(url, headers=asked)
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")
    # The metrics token opens /metrics only.
    assert (
        httpx.get(f"{service.base}/api/sessions", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code
        == 401
    )
    login = httpx.post(f"{service.base}/api/login", json={"name": "boss", "password": PASSWORD})
    assert httpx.get(url, cookies=login.cookies).status_code == 200
    entries = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    refused = {(e["user"], e["action"]) for e in entries if e["detail"].get("status") == "refused"}
    assert refused >= {("tina", "metrics.read"), ("rita", "metrics.read"), ("rex", "metrics.read")}


def test_a_short_metrics_token_is_refused():
    from dyadscope.service.config import Config

    with pytest.raises(ValueError, match="metrics token"):
        Config(metrics_token="short").with_token()


def test_metrics_follow_a_live_session(simulated_session, tmp_path):
    service, session_id = simulated_session("metrics", data_dir=tmp_path)
    session = service.service.manager.get(session_id)
    eventually(lambda: len(session.streams) >= 4)
    before = scrape(service)
    assert value(before, "dyadscope_sessions") == 1
    assert sum(before.get("dyadscope_streams", {}).values()) == len(session.streams)
    assert value(before, "dyadscope_models_loaded") == 0 and "dyadscope_model_batches_total" not in before
    assert value(before, "dyadscope_ingest_queue_capacity") == 256
    assert 0 <= value(before, "dyadscope_ingest_queue_depth_max") <= 256
    reply = httpx.post(
        f"{service.base}/api/sessions/{session_id}/recording",
        json={"subject": "m01", "session": "1"},
        headers=service.headers,
    )
    assert reply.status_code == 201, reply.text
    with service.ws(session_id) as ws:
        seen = [json.loads(ws.recv(timeout=30))["seq"] for _ in range(20)]
        during = eventually(lambda: (m := scrape(service)) and value(m, "dyadscope_websocket_clients") == 1 and m)
    # Events counted by the service are at least those this client saw; the counter grows with the session.
    assert value(during, "dyadscope_events_total") >= max(seen)
    assert value(during, "dyadscope_events_total") > value(before, "dyadscope_events_total")
    assert value(during, "dyadscope_recordings") == 1 and value(during, "dyadscope_recordings_behind") == 0
    assert value(during, "dyadscope_recorder_pending_bytes") >= 0
    assert value(during, "process_open_fds") > 0
    after = eventually(lambda: (m := scrape(service)) and value(m, "dyadscope_websocket_clients") == 0 and m)
    logged = value(after, "dyadscope_events_total")
    assert httpx.delete(f"{service.base}/api/sessions/{session_id}", headers=service.headers).status_code == 204
    stopped = scrape(service)
    assert value(stopped, "dyadscope_sessions") == 0 and "dyadscope_streams" not in stopped
    assert value(stopped, "dyadscope_recordings") == 0
    assert value(stopped, "dyadscope_events_total") >= logged  # a counter: a stopped session's events stay counted


def test_model_batches_appear_once_the_engine_is_built(make_service, tmp_path_factory):
    service = make_service(model_dir=default_models(tmp_path_factory.mktemp("models")))
    engine = service.call(service.service.app.state.webrtc.engine(), timeout=120)
    crop = engine.face_model.prepare(skimage.data.astronaut()[:, :, ::-1].copy(), (150, 20, 160, 180))
    asyncio.run(asyncio.to_thread(engine.score_faces, [crop, crop, crop]))
    metrics = scrape(service)
    face = engine.face_model.name
    assert value(metrics, "dyadscope_models_loaded") == 1
    assert value(metrics, "dyadscope_model_items_total", model=face) == 3
    batches = value(metrics, "dyadscope_model_batches_total", model=face)
    assert 1 <= batches <= 3
    assert value(metrics, "dyadscope_model_batch_size", model=face) == pytest.approx(3 / batches)
    assert value(metrics, "dyadscope_model_inference_seconds", model=face, stat="p95") > 0
    assert value(metrics, "dyadscope_model_queue_depth", model=face) == 0
    assert np.isfinite(value(metrics, "dyadscope_model_inference_seconds", model=face, stat="mean"))
