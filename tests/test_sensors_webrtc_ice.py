"""ICE of the service's WebRTC ingest, against a real aiortc client on loopback.

Candidates only on the configured address (loopback too, which aioice on its
own leaves out), UDP ports from the configured range, every socket released
when the device hangs up or never connects; a full range is a clear error.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time

import pytest
from _udp_support import udp_sockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from dyadscope.sensors.ice import IceSettings, IceUnavailable, host_addresses, restrict
from dyadscope.sensors.webrtc import Offer, WebRtcIngest
from dyadscope.service.config import Config

SERVER = IceSettings(("127.0.0.1",), 50000, 50009)
CLIENT = IceSettings(("127.0.0.1",), 40000, 40099)  # the client in this process, told apart by its ports


class _Counted:
    """A track sink that counts what it is given."""

    colour = False
    visible = ()

    def __init__(self):
        self.items = 0

    async def put(self, item) -> None:
        self.items += 1

    async def end(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class _Counter:
    """A media sink whose tracks count their items (the ICE is under test, not the analysis)."""

    def __init__(self):
        self.tracks: list[_Counted] = []

    def video(self, name, roles):
        self.tracks.append(_Counted())
        return self.tracks[-1]

    def audio(self, info):
        return self.video(info.name, (info.role,))


async def _offer(ingest: WebRtcIngest):
    """A client's offer (test frames and tone, a status channel) answered by ``ingest``: (client, answer)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("status")
    pc.addTrack(VideoStreamTrack())
    pc.addTrack(AudioStreamTrack())
    restrict(pc, CLIENT)
    await pc.setLocalDescription(await pc.createOffer())
    try:
        answer = await ingest.answer(Offer(pc.localDescription.sdp, ("patient",), "patient"))
    except Exception:
        await pc.close()
        raise
    return pc, answer


async def _until(condition, timeout_s: float) -> None:
    """Wait until ``condition()`` holds; ``timeout_s`` is an upper bound only (the asserts decide)."""
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


def _candidates(sdp: str) -> list[tuple[str, int]]:
    return [(m[1], int(m[2])) for m in re.finditer(r"a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ (\w+)", sdp)]


def _ours(sockets: set[tuple[str, int]], ice: IceSettings = SERVER) -> set[tuple[str, int]]:
    """The sockets bound in the range of ``ice`` (the service's; the client's are in its own; LSL's elsewhere)."""
    return {s for s in sockets if ice.first_port <= s[1] <= ice.last_port}


def _webrtc(sockets: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """The sockets of this test's service and client."""
    return _ours(sockets) | _ours(sockets, CLIENT)


def test_loopback_only_connects_in_the_range_and_hangs_up_releasing_the_ports():
    async def main():
        sink = _Counter()

        async def open_sink():
            return sink

        ingest = WebRtcIngest(open_sink, time.monotonic, SERVER)
        assert _webrtc(udp_sockets()) == set()
        pc, answer = await _offer(ingest)
        bound = _ours(udp_sockets())
        await pc.setRemoteDescription(RTCSessionDescription(answer.sdp, answer.type))
        peer = ingest.peers[0]
        await _until(lambda: peer.pc.connectionState == "connected" and sum(t.items for t in sink.tracks) > 20, 30)
        connected, received = peer.pc.connectionState, sum(t.items for t in sink.tracks)
        await pc.close()  # the device hangs up
        await _until(lambda: _webrtc(udp_sockets()) == set(), 30)
        after, state = _webrtc(udp_sockets()), peer.pc.connectionState
        await ingest.close()
        return answer.sdp, bound, connected, received, after, state

    sdp, bound, connected, received, after, state = asyncio.run(main())
    candidates = set(_candidates(sdp))  # the same one on each bundled media line
    assert len(candidates) == 1 and next(iter(candidates))[0] == "127.0.0.1", candidates
    assert SERVER.first_port <= next(iter(candidates))[1] <= SERVER.last_port
    assert bound == candidates, "one socket, on the configured address, at the announced port"
    assert connected == "connected" and received > 20
    assert state == "closed" and after == set(), "no UDP socket left once the device hung up"


def test_a_device_that_never_connects_is_closed_and_a_full_range_is_a_clear_error():
    async def main():
        async def open_sink():
            return _Counter()

        quick = IceSettings(("127.0.0.1",), 50010, 50010, connect_timeout_s=1.0)
        ingest = WebRtcIngest(open_sink, time.monotonic, quick)
        silent, _ = await _offer(ingest)  # its answer is never applied: no ICE checks come
        held = {s for s in udp_sockets() if s[1] == 50010}
        peer = ingest.peers[0]
        await _until(lambda: peer.pc.connectionState == "closed", 30)
        released = {s for s in udp_sockets() if s[1] == 50010}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:  # the only port of the range taken
            squatter.bind(("127.0.0.1", 50010))
            with pytest.raises(IceUnavailable, match="50010-50010 on 127.0.0.1 is in use"):
                await _offer(ingest)
        await silent.close()
        await ingest.close()
        return held, peer.pc.connectionState, released

    held, state, released = asyncio.run(main())
    assert held == {("127.0.0.1", 50010)}
    assert state == "closed" and released == set(), "a connection that never connected gives its port back"


def test_candidate_addresses_follow_the_host_and_the_range_is_checked():
    assert host_addresses("127.0.0.1") == ("127.0.0.1",)
    assert host_addresses("10.1.2.3") == ("10.1.2.3",)
    assert "127.0.0.1" in host_addresses("localhost")
    assert all(a in ("127.0.0.1", "::1") for a in host_addresses("localhost"))
    assert "127.0.0.1" in host_addresses("0.0.0.0")  # every interface, loopback included
    with pytest.raises(ValueError, match="cannot resolve"):
        host_addresses("no-such-host.invalid")
    assert Config().media_ports == (50000, 50099)
    assert Config(media_udp_ports="51000-51003").media_ports == (51000, 51003)
    assert Config(media_host="10.1.2.3").media_bind_host == "10.1.2.3"
    assert Config(host="10.9.9.9").media_bind_host == "10.9.9.9"
    for bad in ("51003-51000", "80-90", "x", "51000-70000"):
        with pytest.raises(ValueError, match="FIRST-LAST"):
            Config(media_udp_ports=bad).with_token()


def test_an_address_that_cannot_be_bound_is_left_out_while_another_can():
    async def main():
        async def open_sink():
            return _Counter()

        # 192.0.2.1 (TEST-NET-1) is no address of this machine
        ingest = WebRtcIngest(open_sink, time.monotonic, IceSettings(("192.0.2.1", "127.0.0.1"), 50030, 50031))
        pc, answer = await _offer(ingest)
        alone = WebRtcIngest(open_sink, time.monotonic, IceSettings(("192.0.2.1",), 50030, 50031))
        with pytest.raises(IceUnavailable, match="cannot open a UDP port on 192.0.2.1"):
            await _offer(alone)
        await pc.close()
        await ingest.close()
        return answer.sdp

    assert {a for a, _ in _candidates(asyncio.run(main()))} == {"127.0.0.1"}
