"""Live and offline give the same numbers: one recording through real LSL and through `analyze`."""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import pylsl
import pytest
from _physio_support import RATE, recording

from dyadscope.offline.analysis import analyze
from dyadscope.sensors.lsl import local_clock
from dyadscope.sensors.lsl_outlets import lsl_stream_info
from dyadscope.stream.types import Chunk, StreamInfo
from dyadscope.xdf.reader import load_recording
from dyadscope.xdf.recorder import Recorder

SECONDS = 90
CHUNK = 20  # samples per push (0.2 s), as an amplifier sends them
SPEED = 10.0  # times real time


def _events(service, session_id: str, until_kind_count: dict[str, int], timeout: float = 60) -> list[dict]:
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    with service.ws(session_id) as ws:
        while time.monotonic() < deadline:
            try:
                got.append(json.loads(ws.recv(timeout=2)))
            except TimeoutError:
                if all(sum(e["kind"] == k for e in got) >= n for k, n in until_kind_count.items()):
                    return got
    raise AssertionError(f"live session did not deliver {until_kind_count} in {timeout} s")


def test_live_session_and_offline_analysis_agree(shared_data, tmp_path, make_service):
    data = recording(shared_data / "physio" / "bio_eventrelated_100hz.csv").iloc[: int(SECONDS * RATE)]
    tag = uuid.uuid4().hex[:8]
    infos = [
        StreamInfo(f"live-offline {m} {tag}", m, 1, RATE, "float32", source_id=f"lo-{tag}-{m}", role="patient")
        for m in ("ECG", "RSP", "EDA")
    ]
    t0 = local_clock()
    stamps = t0 + np.arange(len(data)) / RATE

    # offline: the same samples and timestamps, as an XDF recording
    xdf = tmp_path / "same.xdf"
    recorder = Recorder(xdf, {"session": "offline"})
    for info in infos:
        recorder.write(Chunk(info, stamps, data[info.modality].to_numpy(np.float64)[:, None]))
    recorder.close()
    offline = analyze(load_recording(xdf), tmp_path / "offline")
    offline_events = [json.loads(line) for line in (tmp_path / "offline" / "events.jsonl").read_text().splitlines()]

    # live: real LSL outlets into a real session, only these streams
    service = make_service()
    outlets = [pylsl.StreamOutlet(lsl_stream_info(info)) for info in infos]
    session = service.call(service.service.manager.create("live", select=lambda i: i.source_id.startswith(f"lo-{tag}")))
    deadline = time.monotonic() + 20
    while len(session.streams) < 3:
        assert time.monotonic() < deadline, "the session did not find the outlets"
        time.sleep(0.1)
    time.sleep(1.0)  # the inlets are open and have their clock offsets
    # Ten times real time: streams stay within a second or two of each other,
    # as on a live rig. (RSA waits for the beats of each breath, up to its
    # 60 s window: a skew beyond that means there is no ECG.)
    for start in range(0, len(data), CHUNK):
        for info, outlet in zip(infos, outlets):
            values = data[info.modality].to_numpy(np.float32)[start : start + CHUNK, None]
            outlet.push_chunk(values.tolist(), stamps[start : start + CHUNK].tolist())
        time.sleep(CHUNK / RATE / SPEED)
    wanted = {kind: offline.events[kind] for kind in ("rpeak", "scr", "breath", "heart_rate")}
    live_events = _events(service, "live", wanted)

    _assert_same_beats_breaths_and_scrs(live_events, offline_events)
    _assert_same_heart_rate(live_events, offline_events)
    _assert_same_rsa(live_events, offline_events)


def _of(events, kind, field):
    return np.array([e["t"] if field == "t" else e["data"][field] for e in events if e["kind"] == kind], float)


def _assert_same_beats_breaths_and_scrs(live_events, offline_events) -> None:
    # the ingest adds the measured clock offset (microseconds on loopback)
    for kind in ("rpeak", "scr", "breath"):
        live, off = _of(live_events, kind, "t"), _of(offline_events, kind, "t")
        assert live.shape == off.shape, kind
        np.testing.assert_allclose(live, off, atol=1e-3, err_msg=kind)
    np.testing.assert_allclose(
        _of(live_events, "scr", "amplitude_us"), _of(offline_events, "scr", "amplitude_us"), rtol=1e-6
    )


def _assert_same_heart_rate(live_events, offline_events) -> None:
    """One per second of data on the same grid, however the inlet chunked the samples."""
    live_hr, off_hr = _of(live_events, "heart_rate", "t"), _of(offline_events, "heart_rate", "t")
    np.testing.assert_array_equal(np.floor(live_hr), np.floor(off_hr))
    np.testing.assert_allclose(live_hr, off_hr, atol=1e-3)
    np.testing.assert_allclose(
        _of(live_events, "heart_rate", "bpm"), _of(offline_events, "heart_rate", "bpm"), rtol=1e-4
    )
    np.testing.assert_array_equal(_of(live_events, "heart_rate", "beats"), _of(offline_events, "heart_rate", "beats"))


def _assert_same_rsa(live_events, offline_events) -> None:
    def p2t_by_breath(events):
        return {
            round(e["data"]["p2t_breath_t"], 2): e["data"]["p2t_ms"]
            for e in events
            if e["kind"] == "rsa" and e["data"]["p2t_ms"] is not None
        }

    live_rsa, off_rsa = p2t_by_breath(live_events), p2t_by_breath(offline_events)
    shared = sorted(set(live_rsa) & set(off_rsa))
    assert len(shared) >= 0.9 * len(off_rsa) > 0
    assert [live_rsa[t] for t in shared] == pytest.approx([off_rsa[t] for t in shared], abs=1e-6)
