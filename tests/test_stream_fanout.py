"""The fan-out of a bus topic: each message encoded once, read after a cursor in bounded batches."""

from __future__ import annotations

import asyncio
import json

from dyadscope.stream.bus import MemoryBus
from dyadscope.stream.fanout import Fanout


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def _settled(fanout: Fanout, last_id: int) -> None:
    while fanout.last_id < last_id:
        await fanout.wait(fanout.last_id)


def test_messages_are_encoded_once_and_read_in_bounded_batches():
    async def scenario():
        bus = MemoryBus(maxlen=1000)
        encoded: list[int] = []

        def encode(message):
            encoded.append(message["n"])
            return None if message["n"] % 10 == 0 else json.dumps(message)  # every tenth not for this audience

        for n in range(1, 501):
            await bus.publish("t", {"n": n})
        fanout = Fanout(bus, "t", encode, maxlen=1000)
        fanout.start()
        await _settled(fanout, 500)
        seen, cursor, batches = [], 0, 0
        while cursor < 500:
            texts, cursor = fanout.after(cursor, limit=64, max_chars=10_000)
            assert len(texts) <= 64
            seen += [json.loads(t)["n"] for t in texts]
            batches += 1
        for _ in range(3):  # however many clients read it
            fanout.after(0, limit=1000, max_chars=1 << 20)
        fanout.end("done")
        return encoded, seen, batches

    encoded, seen, batches = _run(scenario())
    assert encoded == list(range(1, 501))  # once each, in order
    assert seen == [n for n in range(1, 501) if n % 10]
    assert batches == 8  # 500 / 64, rounded up


def test_batches_stop_at_the_character_bound_but_always_take_one():
    async def scenario():
        bus = MemoryBus()
        for n in range(1, 6):
            await bus.publish("t", {"text": "x" * 100 * n})
        fanout = Fanout(bus, "t", json.dumps, maxlen=100)
        fanout.start()
        await _settled(fanout, 5)
        first, cursor = fanout.after(0, limit=100, max_chars=350)
        huge, cursor_after = fanout.after(4, limit=100, max_chars=10)
        fanout.end("done")
        return first, cursor, huge, cursor_after

    first, cursor, huge, cursor_after = _run(scenario())
    assert len(first) == 2 and cursor == 2  # 114 + 214 characters; the third would pass 350
    assert len(huge) == 1 and cursor_after == 5


def test_a_cursor_older_than_the_kept_messages_starts_at_the_oldest_and_waiters_wake_at_the_end():
    async def scenario():
        bus = MemoryBus(maxlen=100)
        fanout = Fanout(bus, "t", json.dumps, maxlen=100)
        fanout.start()
        for n in range(1, 301):
            await bus.publish("t", {"n": n})
        await _settled(fanout, 300)
        texts, _ = fanout.after(0, limit=1000, max_chars=1 << 20)
        waiter = asyncio.create_task(fanout.wait(300))
        await asyncio.sleep(0)
        fanout.end("session ended")
        await waiter
        return [json.loads(t)["n"] for t in texts], fanout.ended

    kept, ended = _run(scenario())
    assert kept[-1] == 300 and kept == list(range(kept[0], 301))
    assert 100 <= len(kept) <= 100 + 100 // 8  # bounded like the log (trimmed in steps)
    assert ended == "session ended"
