"""One conformance suite for every bus: in-memory and a real Redis server."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest

from dyadscope.stream.bus import open_bus, subscribe
from dyadscope.stream.events import EventLog
from dyadscope.stream.types import Feature


@pytest.fixture(params=["memory", "redis"])
def bus_url(request) -> str:
    return "memory" if request.param == "memory" else request.getfixturevalue("redis_url")


def run(bus_url: str, scenario, maxlen: int = 3) -> None:
    async def main():
        bus = open_bus(bus_url, maxlen, key=b"test-signing-key-0123456789")
        try:
            await scenario(bus, f"t-{uuid.uuid4().hex}")
        finally:
            await bus.close()

    asyncio.run(main())


def test_read_after_cursor_and_bounded_topics(bus_url):
    async def scenario(bus, topic):
        assert await bus.read(topic, 0) == []
        assert await bus.bounds(topic) == (0, 0)
        for i in range(5):
            assert await bus.publish(topic, {"i": i}) == i + 1
        assert await bus.bounds(topic) == (3, 5)
        assert [m["i"] for _, m in await bus.read(topic, 0)] == [2, 3, 4]  # oldest are gone
        assert [mid for mid, _ in await bus.read(topic, 3)] == [4, 5]
        assert [mid for mid, _ in await bus.read(topic, 2, limit=1)] == [3]
        assert await bus.read(topic, 5, timeout=0.05) == []

    run(bus_url, scenario)


def test_caller_ids_must_increase(bus_url):
    async def scenario(bus, topic):
        for mid in (10, 20, 30):
            assert await bus.publish(topic, {"id": mid}, id=mid) == mid
        with pytest.raises(ValueError):
            await bus.publish(topic, {}, id=30)
        assert [mid for mid, _ in await bus.read(topic, 15)] == [20, 30]

    run(bus_url, scenario, maxlen=10)


def test_waiting_reader_wakes_on_publish_and_subscribe_yields_once(bus_url):
    async def scenario(bus, topic):
        waiter = asyncio.create_task(bus.read(topic, 0, timeout=5))
        await asyncio.sleep(0.05)
        await bus.publish(topic, {"i": 1})
        assert [m["i"] for _, m in await waiter] == [1]
        await bus.publish(topic, {"i": 2})
        got = []
        async for mid, message in subscribe(bus, topic, after=0, poll=1):
            got.append((mid, message["i"]))
            if mid == 2:
                break
        assert got == [(1, 1), (2, 2)]

    run(bus_url, scenario)


def test_event_log_round_trips_and_resumes_numbering(bus_url):
    async def scenario(bus, topic):
        session = topic  # a fresh session id per test
        log = EventLog(session, bus)
        await log.emit(Feature("heart_rate", "patient", 1.0, {"bpm": np.float64(61.5), "n": np.int64(3)}))
        await log.emit(Feature("stream_lost", "therapist", 2.0, {"stream": "ECG"}))
        restarted = EventLog(session, bus)  # a service restarted on the same bus
        await restarted.resume()
        assert restarted.last_seq == 2
        third = await restarted.emit(Feature("heart_rate", "patient", 3.0, {"bpm": 62.0}))
        assert third.seq == 3
        stored = [m for _, m in await bus.read(log.topic, 0)]
        assert [m["seq"] for m in stored] == [1, 2, 3]
        assert stored[0]["data"] == {"bpm": 61.5, "n": 3}

    run(bus_url, scenario, maxlen=100)


def test_delete_drops_a_topic_and_its_ids(bus_url):
    async def scenario(bus, topic):
        await bus.publish(topic, {"i": 1})
        await bus.delete(topic)
        assert await bus.bounds(topic) == (0, 0)
        assert await bus.publish(topic, {"i": 1}) == 1  # numbering starts again

    run(bus_url, scenario)


def test_concurrent_emits_reach_the_bus_in_number_order(bus_url):
    """The worker, sensor threads and the API emit at once; no event may be lost."""

    async def scenario(bus, topic):
        log = EventLog(topic, bus)
        await asyncio.gather(*(log.emit(Feature("marker", None, float(i), {"i": i})) for i in range(200)))
        stored = [mid for mid, _ in await bus.read(log.topic, 0, limit=1000)]
        assert stored == list(range(1, 201))

    run(bus_url, scenario, maxlen=1000)
