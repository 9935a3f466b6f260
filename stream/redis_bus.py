"""The bus on Redis Streams, for running across processes and machines.

Same semantics as :class:`~dyadscope.stream.bus.MemoryBus`: each topic is a
Redis stream whose entry ids are ``0-<n>`` with our integer id ``n``, kept
dense by a counter key; ``read`` is ``XREAD`` after a cursor (blocking up to
the timeout); topics are trimmed to ``maxlen`` entries. Messages are stored as
one JSON field ``m``, so a dashboard in another language can read them too.

Safe to share a machine with other processes:

* **Who may write**: the URL carries the credentials of a Redis ACL user
  (``redis://USER:PASSWORD@host:6379/0``; ``rediss://`` for TLS, checked
  against ``ca_file``). Only holders of that password can write, trim or
  delete our keys (see the README for the ACL line).
* **What is believed**: every entry also carries ``s``, an HMAC-SHA256 of its
  topic and message under ``key``, a secret that never goes to Redis. Entries
  that do not verify (injected by anyone without the key, or moved from
  another topic) and events whose own ``seq`` is not their entry id
  (replayed) are dropped on read, with one log line per minute at most.
* **When Redis is down**, every call raises
  :class:`~dyadscope.stream.bus.BusUnavailable` at once: an outage (after
  Redis was reached once) is logged once (once a minute at most, should it
  flap), calls fail fast without reconnecting for ``retry_s``, and the
  first call that works again logs the recovery. A Redis that refuses
  entries (the ACL user lacks a command, out of memory) counts as away.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, NoPermissionError

from dyadscope.stream.bus import BusUnavailable, Message
from dyadscope.stream.wire import to_json

log = logging.getLogger(__name__)

T = TypeVar("T")

# Atomically pick the next id (or check a caller's id) and append, so that
# concurrent publishers can never write ids out of order. The counter moves
# only once the entry is in (a script that fails half-way is not undone).
_PUBLISH = """
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = last + 1
if ARGV[2] ~= '' then
  n = tonumber(ARGV[2])
  if n <= last then
    return redis.error_reply('id ' .. n .. ' is not after the last id of ' .. KEYS[1])
  end
end
redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[3], '0-' .. n, 'm', ARGV[1], 's', ARGV[4])
redis.call('SET', KEYS[2], n)
return n
"""

#: Longest a command other than a blocking read may take, seconds.
OP_TIMEOUT_S = 5.0
#: Seconds between log lines of one kind (outages, dropped entries).
LOG_INTERVAL_S = 60.0
#: What Redis answers to an id that is already taken (by an earlier try of the same publish, or an intruder).
_ID_TAKEN = ("is not after the last id", "equal or smaller than the target stream top item")


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else "***@"
    return parts._replace(netloc=user + parts.netloc.rsplit("@", 1)[1]).geturl()


def _seq(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[1])


class RedisBus:
    """The bus on a Redis server (``url`` like ``redis://user:pass@127.0.0.1:6379/0``).

    ``key`` signs and verifies every message; ``ca_file`` (PEM) is the CA a
    ``rediss://`` server must prove itself against (default: the system's);
    ``retry_s`` is how long, after a failure, calls fail without trying.
    """

    def __init__(
        self,
        url: str,
        maxlen: int = 10_000,
        *,
        key: bytes,
        prefix: str = "dyadscope:",
        ca_file: str | None = None,
        retry_s: float = 1.0,
    ):
        if maxlen <= 0:
            raise ValueError(f"maxlen must be positive, got {maxlen}")
        if not key:
            raise ValueError("the signing key must not be empty")
        if ca_file and not url.startswith("rediss://"):
            raise ValueError("a CA file is for rediss:// (TLS) URLs")
        options: dict[str, Any] = {"ssl_ca_certs": ca_file} if ca_file else {}
        # No socket timeout (reads block up to their own timeout; each other
        # call has OP_TIMEOUT_S), one immediate retry so a pooled connection
        # that died with a restarted server is replaced without an error.
        self._redis = aioredis.from_url(
            url, socket_timeout=None, socket_connect_timeout=2.0, retry=Retry(NoBackoff(), 1), **options
        )
        self._where = redacted(url)
        self._key = key
        self._maxlen = maxlen
        self._prefix = prefix
        self._publish = self._redis.register_script(_PUBLISH)
        self._retry_s = retry_s
        self._reached = False
        self._down_since: float | None = None
        self._next_try = 0.0
        self._outage_logged = -LOG_INTERVAL_S
        self._logging_outage = False
        #: Entries dropped on read because they did not verify.
        self.dropped = 0
        self._drop_logged = -LOG_INTERVAL_S

    def _topic_key(self, topic: str) -> str:
        return self._prefix + topic

    def _sign(self, key: str, payload: str) -> str:
        return hmac.new(self._key, f"{key}\n{payload}".encode(), hashlib.sha256).hexdigest()

    # -- availability ------------------------------------------------------

    async def _call(self, command: Awaitable[T], timeout: float = OP_TIMEOUT_S) -> T:
        """Await a Redis command; :class:`BusUnavailable` if Redis is (or just went) away."""
        now = time.monotonic()
        if self._down_since is not None and now < self._next_try:
            if asyncio.iscoroutine(command):
                command.close()  # never started: fail fast instead of reconnecting
            raise BusUnavailable(f"Redis at {self._where} is unavailable")
        try:
            async with asyncio.timeout(timeout):
                result = await command
        except (aioredis.ConnectionError, aioredis.TimeoutError, NoPermissionError, TimeoutError, OSError) as exc:
            raise self._went_down(exc) from None
        self._reached = True
        if self._down_since is not None:
            if self._logging_outage:
                log.warning("redis bus at %s is back after %.0f s", self._where, now - self._down_since)
            self._down_since = None
        return result

    def _went_down(self, exc: BaseException) -> BusUnavailable:
        reason = (str(exc) or type(exc).__name__).rstrip(".")
        if isinstance(exc, AuthenticationError) or "authenticated" in reason:
            reason = f"authentication failed: {reason}; check the user and password in the bus URL"
        error = BusUnavailable(f"Redis at {self._where} is unavailable ({reason})")
        if not self._reached:
            return error  # never up yet (start-up): the caller says why; there is no outage to log
        now = time.monotonic()
        if self._down_since is None:  # an outage begins: say so, once a minute at most (a flapping Redis)
            self._down_since = now
            self._logging_outage = now - self._outage_logged >= LOG_INTERVAL_S
            if self._logging_outage:
                self._outage_logged = now
                log.warning(
                    "redis bus at %s is unavailable (%s); calls answer 'try again' until it is back",
                    self._where,
                    reason,
                )
        self._next_try = now + self._retry_s
        return error

    async def check(self) -> None:
        await self._call(self._redis.ping())

    # -- the bus -----------------------------------------------------------

    async def publish(self, topic: str, message: Message, *, id: int | None = None) -> int:
        key = self._topic_key(topic)
        payload = to_json(message)
        args = [payload, "" if id is None else str(id), self._maxlen, self._sign(key, payload)]
        try:
            n = await self._call(self._publish(keys=[key, key + ":last"], args=args))
        except aioredis.ResponseError as exc:
            if any(text in str(exc) for text in _ID_TAKEN):
                raise ValueError(str(exc)) from None
            raise self._went_down(exc) from None  # it cannot take entries: no permission, out of memory
        return int(n)

    async def read(
        self, topic: str, after: int, *, limit: int = 256, timeout: float | None = None
    ) -> list[tuple[int, Message]]:
        key = self._topic_key(topic)
        block = max(1, int(timeout * 1000)) if timeout else None
        cursor = after
        while True:  # past entries that do not verify, so a reader never spins on them
            command = self._redis.xread({key: f"0-{cursor}"}, count=limit, block=block)
            reply = await self._call(command, OP_TIMEOUT_S + (timeout or 0))
            if not reply:
                return []
            entries = reply[0][1]
            good = [item for entry in entries if (item := self._verified(key, *entry)) is not None]
            if good:
                return good
            cursor = _seq(entries[-1][0])

    def _verified(self, key: str, entry_id: bytes, fields: dict[bytes, bytes]) -> tuple[int, Message] | None:
        """``(id, message)`` of an entry whose signature and seq hold; ``None`` (counted, logged) otherwise."""
        n = _seq(entry_id)
        payload = fields.get(b"m", b"").decode(errors="replace")
        if hmac.compare_digest(fields.get(b"s", b""), self._sign(key, payload).encode()):
            message = json.loads(payload)
            if not (isinstance(message, dict) and isinstance(message.get("seq"), int) and message["seq"] != n):
                return n, message
        self.dropped += 1
        now = time.monotonic()
        if now - self._drop_logged >= LOG_INTERVAL_S:
            self._drop_logged = now
            log.warning(
                "redis bus: %d entr%s dropped so far that this service did not sign (forged, replayed, or signed "
                "with another bus key); logged at most once a minute",
                self.dropped,
                "y" if self.dropped == 1 else "ies",
            )
        return None

    async def bounds(self, topic: str) -> tuple[int, int]:
        key = self._topic_key(topic)
        last = int(await self._call(self._redis.get(key + ":last")) or 0)
        first = await self._call(self._redis.xrange(key, count=1))
        return (_seq(first[0][0]) if first else 0, last)

    async def delete(self, topic: str) -> None:
        key = self._topic_key(topic)
        await self._call(self._redis.delete(key, key + ":last"))

    async def close(self) -> None:
        await self._redis.aclose()
