"""Core stream pieces: ring buffer, pipeline, event log, wire encoding."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import numpy as np
import pytest

from dyadscope.stream.bus import MemoryBus
from dyadscope.stream.events import EventLog
from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.processors.registry import physiology_processors
from dyadscope.stream.ring import RingBuffer
from dyadscope.stream.types import Chunk, Feature, StreamInfo
from dyadscope.stream.wire import to_json


def test_ring_buffer_keeps_newest_rows_in_order():
    ring = RingBuffer(5)
    ring.extend(np.arange(3.0))
    assert ring.latest().tolist() == [0, 1, 2]
    ring.extend(np.arange(3.0, 9.0))  # wraps
    assert ring.latest().tolist() == [4, 5, 6, 7, 8]
    assert ring.latest(2).tolist() == [7, 8]
    assert ring.total == 9 and len(ring) == 5
    assert ring.since(6).tolist() == [6, 7, 8]
    assert ring.since(0).tolist() == [4, 5, 6, 7, 8]  # older rows are gone
    ring.extend(np.arange(100.0, 112.0))  # more than capacity at once
    assert ring.latest().tolist() == [107, 108, 109, 110, 111]


def test_ring_buffer_rows_of_vectors_and_shape_errors():
    ring = RingBuffer(4, channels=2)
    ring.extend(np.ones((3, 2)))
    ring.append(np.array([5.0, 6.0]))
    assert ring.latest(1).tolist() == [[5.0, 6.0]]
    with pytest.raises(ValueError):
        ring.extend(np.ones((2, 3)))
    with pytest.raises(ValueError):
        RingBuffer(0)


def test_chunk_rejects_mismatched_shapes():
    info = StreamInfo("x", "ECG", 1, 100.0)
    with pytest.raises(ValueError):
        Chunk(info, np.zeros(3), np.zeros((4, 1)))
    with pytest.raises(ValueError):
        Chunk(info, np.zeros(3), np.zeros(3))


def test_event_log_numbers_features_and_publishes():
    async def scenario():
        bus = MemoryBus()
        log = EventLog("s", bus, clock=lambda: 1234.5)
        e1 = await log.emit(Feature("heart_rate", "patient", 10.0, {"bpm": 61}))
        await log.status("stream_lost", t=11.0, role="therapist", stream="ECG")
        assert e1.seq == 1 and e1.t_emit == 1234.5
        stored = [m for _, m in await bus.read(log.topic, 0)]
        assert [m["seq"] for m in stored] == [1, 2]
        assert stored[1]["data"] == {"stream": "ECG"} and stored[1]["role"] == "therapist"

    asyncio.run(scenario())


class _Doubler:
    def process(self, chunk):
        return [
            Feature("double", chunk.info.role, float(t), {"v": float(v) * 2})
            for t, v in zip(chunk.timestamps, chunk.values[:, 0])
        ]


class _Summer:
    consumes = frozenset({"double"})

    def __init__(self):
        self.total = 0.0

    def consume(self, feature):
        self.total += feature.data["v"]
        return [Feature("sum", None, feature.t, {"total": self.total})]


def test_pipeline_routes_chunks_and_chains_feature_processors():
    built = []

    def factory(info):
        built.append(info.name)
        return [_Doubler()] if info.modality == "ECG" else []

    pipeline = Pipeline([factory], [_Summer()])
    ecg = StreamInfo("ecg", "ECG", 1, 10.0, role="patient")
    eda = StreamInfo("eda", "EDA", 1, 4.0, role="patient")
    out = pipeline.process(Chunk(ecg, np.array([0.0, 0.1]), np.array([[1.0], [2.0]])))
    assert [(f.kind, f.data) for f in out] == [
        ("double", {"v": 2.0}),
        ("double", {"v": 4.0}),
        ("sum", {"total": 2.0}),
        ("sum", {"total": 6.0}),
    ]
    assert pipeline.process(Chunk(eda, np.array([0.0]), np.array([[1.0]]))) == []
    pipeline.process(Chunk(ecg, np.array([0.2]), np.array([[1.0]])))
    assert built == ["ecg", "eda"]  # processors are built once per stream


def test_a_stream_the_processors_refuse_fails_once_and_then_has_none():
    slow = StreamInfo("slow eda", "EDA", 1, 0.05, role="patient", source_id="eda-1")  # filters cannot be built
    pipeline = Pipeline([physiology_processors])
    chunk = Chunk(slow, np.arange(3) / 0.05, np.ones((3, 1)))
    with pytest.raises(ValueError):
        pipeline.process(chunk)
    assert pipeline.process(chunk) == []  # not rebuilt, not raised again: one processing_error, not one per chunk
    assert pipeline.processors_for(slow) == ()
    fixed = replace(slow, nominal_rate=4.0)  # the same stream, its rate corrected: built afresh
    assert [type(p).__name__ for p in pipeline.processors_for(fixed)] == ["EDAProcessor", "QualityProcessor"]


def test_wire_encoding_is_strict_json():
    text = to_json({"a": float("nan"), "b": np.float32(1.5), "c": np.int64(3), "d": [np.inf, 2.0], "e": np.arange(2)})
    assert json.loads(text) == {"a": None, "b": 1.5, "c": 3, "d": [None, 2.0], "e": [0, 1]}
