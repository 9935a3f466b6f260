"""WebRTC ingest: answer a capture device's offer, read its camera and microphone.

Each offer comes from one capture page (a rig laptop or tablet) and says
which people its camera sees (one role, or two roles left to right) and whose
voice its microphone carries. The answer is produced by aiortc; the incoming
tracks go through the shared readers of :mod:`.av_tracks` with frames
stamped on the session clock at arrival, into the media sink its owner opens
for each device.

If the page opens a data channel, the service sends it a status message
every second (``{"video_frames", "audio_seconds", "faces"}``), which drives
the page's "receiving" indicator.

ICE follows :class:`~.ice.IceSettings`: host candidates on the service's
address only, UDP ports from the configured range, no STUN server. A
connection is closed, and its ports released, when the device hangs up, when
its consent checks fail (a device that vanished: about 30 s), or when it has
not connected within the settings' ``connect_timeout_s``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from dyadscope.sensors.av_tracks import AudioReader, MediaIngest, VideoReader
from dyadscope.sensors.ice import IceSettings, IceUnavailable, restrict
from dyadscope.stream.frames import AUDIO_RATE_HZ, Clock, MediaSink
from dyadscope.stream.types import ROLES, Role

log = logging.getLogger(__name__)

#: Largest SDP accepted, in characters (real offers are a few kB).
MAX_SDP = 100_000
STATUS_PERIOD_S = 1.0
#: ``microphone_role`` of a microphone that hears both people.
SHARED_MICROPHONE = "shared"


class OfferError(ValueError):
    """An offer that cannot be answered; the message says why."""


@dataclass(frozen=True)
class Offer:
    """A capture device's offer and who it films and records."""

    sdp: str
    camera_roles: tuple[Role, ...]
    microphone_role: Role | None
    #: The microphone hears both people (``"microphone_role": "shared"``); its units go to who spoke.
    microphone_shared: bool = False

    @classmethod
    def from_json(cls, body: object) -> Offer:
        """Validate the request body: ``{"sdp", "type": "offer", "role", "camera_roles"?, "microphone_role"?}``.

        ``role`` is the person at this device; ``camera_roles`` (default
        ``[role]``) are the people the camera sees, left to right;
        ``microphone_role`` (default ``role``) is whose voice the microphone
        carries, ``"shared"`` for both people's, or null to ignore the audio.
        """
        if not isinstance(body, dict):
            raise OfferError("the body must be a JSON object with sdp, type and role")
        sdp, kind, role = body.get("sdp"), body.get("type"), body.get("role")
        if kind != "offer":
            raise OfferError(f"type must be 'offer', got {kind!r}")
        if not isinstance(sdp, str) or not sdp.startswith("v=0"):
            raise OfferError("sdp must be a session description starting with 'v=0'")
        if len(sdp) > MAX_SDP:
            raise OfferError(f"sdp is longer than {MAX_SDP} characters")
        if role not in ROLES:
            raise OfferError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        camera_roles = body.get("camera_roles") or [role]
        if (
            not isinstance(camera_roles, list)
            or not all(r in ROLES for r in camera_roles)
            or len(camera_roles) not in (1, 2)
            or len(set(camera_roles)) != len(camera_roles)
        ):
            raise OfferError(f"camera_roles must list one or two different roles of {', '.join(ROLES)}")
        microphone_role = body.get("microphone_role", role)
        if microphone_role == SHARED_MICROPHONE:
            return cls(sdp, tuple(camera_roles), None, microphone_shared=True)
        if microphone_role is not None and microphone_role not in ROLES:
            raise OfferError(f"microphone_role must be one of {', '.join(ROLES)}, {SHARED_MICROPHONE!r} or null")
        return cls(sdp, tuple(camera_roles), microphone_role)


class WebRtcPeer:
    """One capture device's connection and the readers of its tracks."""

    def __init__(self, offer: Offer, ingest: MediaIngest, name: str, ice: IceSettings):
        self.offer = offer
        self.ingest = ingest
        self.name = name
        self.ice = ice
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN: nothing leaves the network
        self._status_task: asyncio.Task | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("connectionstatechange", self._on_state)

    def _on_track(self, track) -> None:
        if track.kind == "video" and self.offer.camera_roles:
            self.ingest.add_video(track, self.offer.camera_roles, f"{self.name}-camera")
        elif track.kind == "audio" and (self.offer.microphone_role or self.offer.microphone_shared):
            self.ingest.add_audio(track, self.offer.microphone_role, f"{self.name}-microphone")

    def _on_datachannel(self, channel) -> None:
        async def report() -> None:
            while channel.readyState in ("connecting", "open"):
                if channel.readyState == "open":
                    channel.send(json.dumps(self.status()))
                await asyncio.sleep(STATUS_PERIOD_S)

        self._status_task = asyncio.ensure_future(report())

    async def _on_state(self) -> None:
        log.info("%s: connection %s", self.name, self.pc.connectionState)
        if self.pc.connectionState in ("failed", "closed"):
            await self.close()

    def status(self) -> dict:
        """What the service has received from this device so far."""
        video = [r for r in self.ingest.readers if isinstance(r, VideoReader)]
        audio = [r for r in self.ingest.readers if isinstance(r, AudioReader)]
        return {
            "video_frames": sum(r.frames_received for r in video),
            "audio_seconds": sum(r.samples_received for r in audio) / AUDIO_RATE_HZ,
            "faces": sorted({role for r in video for role in r.sink.visible}),
            "state": self.pc.connectionState,
        }

    async def answer(self) -> RTCSessionDescription:
        """Set the offer and create the answer (ICE gathered, no trickle).

        Raises :class:`OfferError` for an offer that cannot be answered and
        :class:`~.ice.IceUnavailable` when no UDP port of the range is free.
        """
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=self.offer.sdp, type="offer"))
        except Exception as exc:  # aiortc raises ValueError and others for malformed SDP
            await self.pc.close()
            raise OfferError(f"the offer could not be read: {exc}") from None
        if not any(t.kind in ("audio", "video") for t in self.pc.getTransceivers()):
            await self.pc.close()
            raise OfferError("the offer carries no audio or video")
        restrict(self.pc, self.ice)
        try:
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except IceUnavailable:
            await self.pc.close()
            raise
        self._deadline = asyncio.get_running_loop().call_later(self.ice.connect_timeout_s, self._close_unless_connected)
        return self.pc.localDescription

    def _close_unless_connected(self) -> None:
        if self.pc.connectionState != "connected":
            log.info("%s: not connected after %.0f s; closed", self.name, self.ice.connect_timeout_s)
            self._expired = asyncio.ensure_future(self.close())  # kept: a task nobody holds may be collected

    async def close(self) -> None:
        """Close the connection (releasing its UDP ports) and stop its readers."""
        if self._status_task is not None:
            self._status_task.cancel()
        if self._deadline is not None:
            self._deadline.cancel()
        await self.pc.close()
        await self.ingest.stop()


class WebRtcIngest:
    """Answers offers for one session; every device's tracks go to a media sink of its own.

    ``open_sink`` gives the sink of a new device (for a session: its face and
    voice analysis); it may raise (e.g. models not installed), and then the
    offer is not answered.
    """

    def __init__(self, open_sink: Callable[[], Awaitable[MediaSink]], clock: Clock, ice: IceSettings):
        self.open_sink = open_sink
        self.clock = clock
        self.ice = ice
        self.peers: list[WebRtcPeer] = []

    async def answer(self, offer: Offer) -> RTCSessionDescription:
        """Answer one device's offer and start reading what it sends."""
        who = offer.camera_roles[0] if offer.camera_roles else offer.microphone_role or SHARED_MICROPHONE
        name = f"{who}-{len(self.peers) + 1}"
        peer = WebRtcPeer(offer, MediaIngest(await self.open_sink(), self.clock), name, self.ice)
        answer = await peer.answer()
        self.peers = [p for p in self.peers if p.pc.connectionState not in ("failed", "closed")]
        self.peers.append(peer)
        return answer

    async def close(self) -> None:
        """Close every device's connection."""
        await asyncio.gather(*(p.close() for p in self.peers))
        self.peers.clear()
