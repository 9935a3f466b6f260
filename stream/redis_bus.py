"""The bus on Redis Streams, for running across processes and machines.

Same semantics as :class:`~dyadscope.stream.bus.MemoryBus`: each topic is a
Redis stream whose entry ids are ``0-<n>`` with our integer id ``n``, kept
dense by a counter key; ``read`` is ``XREAD`` after a cursor (blocking up to
the timeout); topics are trimmed to ``maxlen`` entries. Messages are stored as
one JSON field, so a dashboard in another language can read them too.
"""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from dyadscope.stream.bus import Message
from dyadscope.stream.wire import to_json

# Atomically pick the next id (or check a caller's id) and append, so that
# concurrent publishers can never write ids out of order.
_PUBLISH = """
local n
if ARGV[2] == '' then
  n = redis.call('INCR', KEYS[2])
else
  n = tonumber(ARGV[2])
  if n <= tonumber(redis.call('GET', KEYS[2]) or '0') then
    return redis.error_reply('id ' .. n .. ' is not after the last id of ' .. KEYS[1])
  end
  redis.call('SET', KEYS[2], n)
end
redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[3], '0-' .. n, 'm', ARGV[1])
return n
"""


def _seq(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[1])


class RedisBus:
    """The bus on a Redis server (``url`` like ``redis://127.0.0.1:6379/0``)."""

    def __init__(self, url: str, maxlen: int = 10_000, *, prefix: str = "dyadscope:"):
        if maxlen <= 0:
            raise ValueError(f"maxlen must be positive, got {maxlen}")
        self._redis = aioredis.from_url(url)
        self._maxlen = maxlen
        self._prefix = prefix
        self._publish = self._redis.register_script(_PUBLISH)

    def _key(self, topic: str) -> str:
        return self._prefix + topic

    async def publish(self, topic: str, message: Message, *, id: int | None = None) -> int:
        key = self._key(topic)
        try:
            n = await self._publish(
                keys=[key, key + ":last"], args=[to_json(message), "" if id is None else str(id), self._maxlen]
            )
        except aioredis.ResponseError as exc:
            raise ValueError(str(exc)) from None
        return int(n)

    async def read(
        self, topic: str, after: int, *, limit: int = 256, timeout: float | None = None
    ) -> list[tuple[int, Message]]:
        block = max(1, int(timeout * 1000)) if timeout else None
        reply = await self._redis.xread({self._key(topic): f"0-{after}"}, count=limit, block=block)
        if not reply:
            return []
        _, entries = reply[0]
        return [(_seq(entry_id), json.loads(fields[b"m"])) for entry_id, fields in entries]

    async def bounds(self, topic: str) -> tuple[int, int]:
        key = self._key(topic)
        last = int(await self._redis.get(key + ":last") or 0)
        first = await self._redis.xrange(key, count=1)
        return (_seq(first[0][0]) if first else 0, last)

    async def delete(self, topic: str) -> None:
        key = self._key(topic)
        await self._redis.delete(key, key + ":last")

    async def close(self) -> None:
        await self._redis.aclose()
