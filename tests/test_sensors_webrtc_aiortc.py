"""WebRTC end to end in one process: an aiortc client sends a real face and speech to the service's route."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from _models_support import default_models
from _webrtc_support import connect_peer, send_over_webrtc, talk_video, webrtc_service
from aiortc.contrib.media import MediaPlayer

from dyadscope.models.build import DEFAULT_MODELS
from dyadscope.models.engine import EngineSettings, ModelEngine
from dyadscope.sensors.av_tracks import VideoReader
from dyadscope.sensors.ice import IceSettings


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return default_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return talk_video(tmp_path_factory.mktemp("media"))


def test_face_voice_and_movement_arrive_over_webrtc(model_dir, media):
    video, spans = media
    features, reply, statuses = send_over_webrtc(model_dir, video, spans[-1][1] + 2.5, {"role": "patient"})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["type"] == "answer" and answer["sdp"].startswith("v=0")
    assert answer["media"] == {"addresses": ["127.0.0.1"], "udp_ports": "50000-50099"}
    kinds = {}
    for f in features:
        kinds.setdefault(f.kind, []).append(f)
    assert {f.role for f in features} == {"patient"}
    assert kinds["face_tracked"][0].data["state"] == "found"
    affect = kinds["face_affect"]
    assert len(affect) >= 10 and sum(f.data["valence"] > 0.5 for f in affect) > 0.8 * len(affect)
    assert all(-1 <= f.data["arousal"] <= 1 for f in affect)
    assert len(kinds["movement"]) >= 20
    units = kinds["voice_segment"]
    assert len(units) == 2
    for unit, (start, end) in zip(units, spans, strict=True):
        assert unit.data["duration_s"] == pytest.approx(end - start, abs=0.3)
    assert statuses and statuses[-1]["video_frames"] > 0 and statuses[-1]["audio_seconds"] > 1.0
    assert statuses[-1]["faces"] == ["patient"]


def test_first_offers_at_once_build_the_engine_once_off_the_event_loop(model_dir, media):
    """Two devices and the metrics page arriving together: one engine, built in a worker thread, one face detector."""
    video, _ = media
    builders = []

    def build_engine():
        builders.append(threading.get_ident())
        return ModelEngine.from_dir(model_dir, EngineSettings(max_batch=4))

    async def main():
        hub, client, _ = webrtc_service(model_dir, build_engine)
        players = [MediaPlayer(str(video)), MediaPlayer(str(video))]
        *offers, metrics = await asyncio.gather(
            connect_peer(client, players[0], {"role": "patient"}),
            connect_peer(client, players[1], {"role": "therapist"}),
            client.get("/api/models/metrics"),
        )
        engine = await hub.engine()
        perception = await hub.perception()
        peers = list(hub.ingest("s1").peers)
        detectors = [r.sink.detector for p in peers for r in p.ingest.readers if isinstance(r, VideoReader)]
        for pc, _, _ in offers:
            await pc.close()
        await hub.close()
        await client.aclose()
        return threading.get_ident(), [reply for _, reply, _ in offers], metrics, engine, perception, peers, detectors

    loop_thread, offers, metrics, engine, perception, peers, detectors = asyncio.run(main())
    assert [reply.status_code for reply in offers] == [200, 200] and metrics.status_code == 200
    assert len(builders) == 1 and builders[0] != loop_thread
    assert perception.engine is engine
    assert len(peers) == 2 and all(p.ingest.sink.perception is perception for p in peers)
    assert len(detectors) == 2 and all(d is perception.face_detector for d in detectors)


def test_missing_models_give_503_until_they_are_built(tmp_path, model_dir, media):
    """Without models the offer and metrics say how to build them; once built, the same hub serves."""
    empty = tmp_path / "models"

    async def main():
        hub, client, _ = webrtc_service(empty, lambda: ModelEngine.from_dir(empty))
        pc, missing, _ = await connect_peer(client, MediaPlayer(str(media[0])), {"role": "patient"})
        await pc.close()
        metrics_missing = await client.get("/api/models/metrics")
        empty.mkdir()
        for name in DEFAULT_MODELS:
            for suffix in (".onnx", ".json"):
                (empty / f"{name}{suffix}").symlink_to(model_dir / f"{name}{suffix}")
        metrics_built = await client.get("/api/models/metrics")
        await hub.close()
        await client.aclose()
        return missing, metrics_missing, metrics_built

    missing, metrics_missing, metrics_built = asyncio.run(main())
    for reply in (missing, metrics_missing):
        assert reply.status_code == 503 and "dyadscope models build" in reply.json()["detail"]
    assert metrics_built.status_code == 200


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"type": "offer", "role": "patient"}, "sdp must be"),
        ({"sdp": "v=0\r\nnonsense", "type": "offer", "role": "patient"}, "no audio or video"),
        ({"sdp": "v=0\r\nm=video x\r\n", "type": "offer", "role": "patient"}, "could not be read"),
        ({"sdp": "v=0\r\n", "type": "answer", "role": "patient"}, "type must be 'offer'"),
        ({"sdp": "v=0\r\n", "type": "offer", "role": "doctor"}, "role must be one of"),
        (
            {"sdp": "v=0\r\n", "type": "offer", "role": "patient", "camera_roles": ["patient", "patient"]},
            "camera_roles",
        ),
        ([1, 2], "JSON object"),
    ],
)
def test_malformed_offers_are_refused_with_the_reason(model_dir, body, reason):
    async def main():
        hub, client, _ = webrtc_service(model_dir)
        reply = await client.post("/api/sessions/s1/webrtc/offer", json=body)
        await hub.close()
        await client.aclose()
        return reply

    reply = asyncio.run(main())
    assert reply.status_code == 400
    assert reason in reply.json()["detail"]


def test_unknown_session_non_json_page_and_metrics(model_dir):
    async def main():
        hub, client, _ = webrtc_service(model_dir)
        unknown = await client.post(
            "/api/sessions/nope/webrtc/offer", json={"sdp": "v=0\r\n", "type": "offer", "role": "patient"}
        )
        not_json = await client.post("/api/sessions/s1/webrtc/offer", content=b"{oops")
        page = await client.get("/capture")
        metrics = await client.get("/api/models/metrics")
        await hub.close()
        await client.aclose()
        return unknown, not_json, page, metrics

    unknown, not_json, page, metrics = asyncio.run(main())
    assert metrics.status_code == 200
    body = metrics.json()
    assert body["provider"] == "CPUExecutionProvider"
    assert [b["name"] for b in body["batchers"]] == ["fer_mini_xception", "silero_vad"]
    assert {"queue_depth", "mean_batch_size", "inference_ms_p95"} <= set(body["batchers"][0])
    assert unknown.status_code == 404
    assert not_json.status_code == 400 and "JSON" in not_json.json()["detail"]
    assert page.status_code == 200 and "capture.js" in page.text


def test_an_offer_when_every_media_port_is_taken_gets_503_with_the_range(model_dir, media):
    async def main():
        hub, client, _ = webrtc_service(model_dir, ice=IceSettings(("127.0.0.1",), 50020, 50020))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
            squatter.bind(("127.0.0.1", 50020))
            pc, reply, _ = await connect_peer(client, MediaPlayer(str(media[0])), {"role": "patient"})
        await pc.close()
        peers = list(hub.ingest("s1").peers)
        await hub.close()
        await client.aclose()
        return reply, peers

    reply, peers = asyncio.run(main())
    assert reply.status_code == 503 and "50020-50020 on 127.0.0.1 is in use" in reply.json()["detail"]
    assert peers == [], "the refused offer left no connection behind"
