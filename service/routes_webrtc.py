"""WebRTC signalling: ``POST /api/sessions/{id}/webrtc/offer`` and the capture page.

The body is ``{"sdp": ..., "type": "offer", "role": "patient" | "therapist",
"camera_roles": [left, right]?, "microphone_role": role | null?}``; the reply
is ``{"sdp": ..., "type": "answer", "media": {"addresses": [...], "udp_ports":
"first-last"}}`` (where the service listens for the media, for the page to
say which ports a firewall must let through). A malformed offer gets 400 with
the reason, an unknown session 404, missing models or no free UDP port of the
range 503 (with what to do). ``GET /capture`` serves the capture page; ``GET /api/models/metrics``
gives each model's batcher counters (queue depth, batch sizes, inference
times) and the provider it runs on.

Mount with ``app.include_router(create_webrtc_router(hub, dependencies=[...]))``:
the dependencies (the token check) guard the offer and the metrics, not the
page, which reads the token from its URL's fragment and sends it as an
``Authorization: Bearer`` header.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pylsl import local_clock

from dyadscope.models.engine import ModelEngine
from dyadscope.models.library import ModelMissing
from dyadscope.perception.live import LivePerception, MediaAnalysis
from dyadscope.perception.speaker_room import SpeakerRoom
from dyadscope.sensors.ice import IceSettings, IceUnavailable
from dyadscope.sensors.webrtc import Offer, OfferError, WebRtcIngest
from dyadscope.stream.frames import Clock, FeatureSink

log = logging.getLogger(__name__)

CAPTURE_PAGE = files("dyadscope.client") / "static" / "capture.html"


class WebRtcHub:
    """The WebRTC ingest of every session; all share one model engine and its perception, built on first use.

    Building them loads the ONNX sessions and the face detector and mesh, which takes
    seconds: it runs in a worker thread, so the event loop (and the session
    workers waiting on it) keeps going, and behind a lock, so offers that
    arrive together build it once. Each device's tracks are analysed by the
    shared :class:`~dyadscope.perception.live.LivePerception`, its features
    going to its session's sink; every device of a session shares the session's
    speaker room (:meth:`room`), which the rig's enrolment fills. Every
    connection's ICE follows ``ice``.
    """

    def __init__(
        self,
        sink_for: Callable[[str], FeatureSink | None],
        ice: IceSettings,
        engine_factory: Callable[[], ModelEngine] = ModelEngine.from_dir,
        clock: Clock = local_clock,
    ):
        self._sink_for = sink_for
        self.ice = ice
        self._engine_factory = engine_factory
        self._perception: LivePerception | None = None
        self._engine_lock = asyncio.Lock()
        self.clock = clock
        self._ingests: dict[str, WebRtcIngest] = {}
        self._rooms: dict[str, SpeakerRoom | None] = {}

    async def perception(self) -> LivePerception:
        """The shared engine's perception, built in a worker thread on first use.

        Raises :class:`ModelMissing` (and builds nothing) while a model is not
        installed; a later call tries again.
        """
        async with self._engine_lock:
            if self._perception is None:
                self._perception = await asyncio.to_thread(lambda: LivePerception(self._engine_factory()))
        return self._perception

    async def engine(self) -> ModelEngine:
        """The shared model engine (see :meth:`perception`)."""
        return (await self.perception()).engine

    @property
    def built_engine(self) -> ModelEngine | None:
        """The shared model engine if a capture has built it, else None (builds nothing)."""
        return None if self._perception is None else self._perception.engine

    async def room(self, session_id: str) -> SpeakerRoom | None:
        """The session's speaker room, made on first use (None without a speaker encoder); see :meth:`perception`."""
        perception = await self.perception()
        if session_id not in self._rooms:
            made = await asyncio.to_thread(perception.room)
            self._rooms.setdefault(session_id, made)
        return self._rooms[session_id]

    async def analysis(self, session_id: str, sink: FeatureSink) -> MediaAnalysis:
        """A new device's (or media file set's) analysis into ``sink``, with the session's speaker room."""
        room = await self.room(session_id)
        return (await self.perception()).analysis(sink, room)

    def ingest(self, session_id: str) -> WebRtcIngest | None:
        """The session's ingest, or None if there is no such session."""
        sink = self._sink_for(session_id)
        if sink is None:
            return None
        if session_id not in self._ingests:
            self._ingests[session_id] = WebRtcIngest(lambda: self.analysis(session_id, sink), self.clock, self.ice)
        return self._ingests[session_id]

    async def close_session(self, session_id: str) -> None:
        """Hang up every device of a session and forget its voices."""
        self._rooms.pop(session_id, None)
        ingest = self._ingests.pop(session_id, None)
        if ingest is not None:
            await ingest.close()

    async def close(self) -> None:
        """Hang up everything and stop the engine."""
        for session_id in list(self._ingests):
            await self.close_session(session_id)
        async with self._engine_lock:  # an engine still being built is closed once built
            if self._perception is not None:
                self._perception.engine.close()
                self._perception = None


def create_webrtc_router(
    hub: WebRtcHub, offer_dependencies: Sequence[Any] = (), metrics_dependencies: Sequence[Any] = ()
) -> APIRouter:
    """The signalling routes; the dependencies guard the offer and the metrics (login, permission)."""
    router = APIRouter()

    @router.post("/api/sessions/{session_id}/webrtc/offer", dependencies=list(offer_dependencies))
    async def webrtc_offer(session_id: str, request: Request) -> dict[str, Any]:
        """Answer a capture device's offer (see the module docstring for the body)."""
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(status_code=400, detail="the body must be JSON") from None
        try:
            offer = Offer.from_json(body)
        except OfferError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        ingest = hub.ingest(session_id)
        if ingest is None:
            raise HTTPException(status_code=404, detail=f"no session {session_id!r}")
        try:
            answer = await ingest.answer(offer)
        except OfferError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        except (ModelMissing, IceUnavailable) as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from None
        media = {"addresses": list(hub.ice.addresses), "udp_ports": hub.ice.ports}
        return {"sdp": answer.sdp, "type": answer.type, "media": media}

    @router.get("/api/models/metrics", dependencies=list(metrics_dependencies))
    async def model_metrics() -> dict[str, Any]:
        """The provider in use and each model batcher's counters."""
        try:
            engine = await hub.engine()
        except ModelMissing as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from None
        return {"provider": engine.face_model.session.provider, "batchers": engine.metrics()}

    @router.get("/capture", include_in_schema=False)
    async def capture_page() -> FileResponse:
        """The capture page, open to all (it holds no data): ``/capture?session=ID&role=...#token=...``."""
        return FileResponse(str(CAPTURE_PAGE))

    return router
