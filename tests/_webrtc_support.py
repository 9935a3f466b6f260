"""Shared helpers for the WebRTC tests: the service's WebRTC routes in-process and an aiortc peer.

``send_over_webrtc`` is the whole live path for one media file: aiortc's
player sends its video and audio to the route, the hub's perception analyses
them, and the features that reach the session's sink come back.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx
from _models_support import espeak, face_video, speech_track, write_wav
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from fastapi import FastAPI

from dyadscope.models.engine import EngineSettings, ModelEngine
from dyadscope.sensors.ice import IceSettings, restrict
from dyadscope.service.audit import AuditLog
from dyadscope.service.config import Config
from dyadscope.service.routes_webrtc import WebRtcHub, create_webrtc_router


def talk_video(folder: Path) -> tuple[Path, list[tuple[float, float]]]:
    """The astronaut's face with two espeak-ng utterances as its audio (mp4); the utterances' spans (s)."""
    signal, spans = speech_track([espeak("I have been feeling anxious all week."), espeak("Tell me more.")], [0.6, 1.5])
    wav = write_wav(folder / "speech.wav", signal)
    return face_video(folder / "face.mp4", signal.size / 16000, audio=wav), spans


#: Both ends on loopback, each in a port range of its own (aioice alone gathers no loopback candidate).
CLIENT_ICE = IceSettings(("127.0.0.1",), 40000, 40099)
SERVER_ICE = IceSettings(("127.0.0.1",), 50000, 50099)


def webrtc_service(model_dir, engine_factory=None, ice: IceSettings = SERVER_ICE):
    """The WebRTC routes of the service on an in-process client; session "s1"'s features collect in a list."""
    features: dict[str, list] = {"s1": []}

    def sink_for(session_id):
        if session_id not in features:
            return None

        async def sink(batch):
            features[session_id].extend(batch)

        return sink

    hub = WebRtcHub(
        sink_for,
        ice,
        engine_factory or (lambda: ModelEngine.from_dir(model_dir, EngineSettings(max_batch=4))),
        time.monotonic,
    )
    app = FastAPI()
    app.include_router(create_webrtc_router(hub))
    data_dir = Path(tempfile.mkdtemp(prefix="webrtc-audit-"))  # what the routes' audit needs of the full app
    app.state.config, app.state.audit = Config(data_dir=data_dir), AuditLog(data_dir / "audit.jsonl")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")
    return hub, client, features


async def connect_peer(client, player, body_extra, session="s1"):
    """An aiortc peer sending ``player``'s tracks: its offer posted; the peer, the reply, its status messages."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("status")
    statuses = []
    channel.on("message", lambda message: statuses.append(json.loads(message)))
    pc.addTrack(player.video)
    pc.addTrack(player.audio)
    restrict(pc, CLIENT_ICE)
    await pc.setLocalDescription(await pc.createOffer())
    reply = await client.post(
        f"/api/sessions/{session}/webrtc/offer", json={"sdp": pc.localDescription.sdp, "type": "offer", **body_extra}
    )
    return pc, reply, statuses


def send_over_webrtc(model_dir, video: Path, seconds: float, body_extra: dict):
    """Play ``video`` to the service over WebRTC for ``seconds``; the features, the offer's reply, the statuses."""

    async def main():
        hub, client, features = webrtc_service(model_dir)
        player = MediaPlayer(str(video))
        pc, reply, statuses = await connect_peer(client, player, body_extra)
        if reply.status_code == 200:
            answer = reply.json()
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
            await asyncio.sleep(seconds)
        await pc.close()
        await hub.close()
        await client.aclose()
        return features["s1"], reply, statuses

    return asyncio.run(main())
