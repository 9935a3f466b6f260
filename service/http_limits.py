"""Connection limits below the app: what keeps an outsider from taking the port.

uvicorn accepts every connection and waits for its headers forever, so a
client that opens connections and never finishes them (slowloris) runs the
process out of file descriptors and every request then fails. The HTTP
protocol here, a thin subclass of uvicorn's httptools protocol, adds:

* a cap on open connections in all (:attr:`Limits.max_connections`) and per
  client address (:attr:`Limits.max_per_client`); a connection beyond either
  gets ``503`` and is closed at once, before anything is parsed;
* a deadline for the request headers (:attr:`Limits.header_timeout_s`, from
  the connection's first byte or its arrival): a client that has not sent
  its headers by then is disconnected (``408``).

Each refusal is logged once per :data:`LOG_EVERY_S` per kind, with the count
since, never once per connection; the client's address is not logged.
:func:`raise_open_file_limit` lifts the process's soft descriptor limit to
its hard limit at start-up, and :func:`quiet_accept_errors` keeps asyncio from
writing one traceback per failed ``accept()`` if descriptors still run out.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

#: Shortest interval between two log lines about the same kind of refusal, seconds.
LOG_EVERY_S = 60.0


@dataclass(frozen=True)
class Limits:
    """Per-process connection limits (see the module docstring)."""

    max_connections: int = 512
    max_per_client: int = 64
    header_timeout_s: float = 10.0


class _RateLimitedLog:
    """One log line per kind per :data:`LOG_EVERY_S`, saying how many happened since the last."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def __call__(self, kind: str, message: str) -> None:
        now = time.monotonic()
        self._count[kind] = self._count.get(kind, 0) + 1
        if now - self._last.get(kind, -LOG_EVERY_S) >= LOG_EVERY_S:
            log.warning("%s (%d since the last such line)", message, self._count[kind])
            self._last[kind], self._count[kind] = now, 0


_refusals = _RateLimitedLog()

_BUSY = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 5\r\n\r\n"
_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def limited_protocol(limits: Limits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with ``limits`` applied (pass it as ``uvicorn.Config(http=...)``)."""

    class LimitedHttpProtocol(HttpToolsProtocol):
        """HTTP/1.1 with a connection cap and a header deadline."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._header_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            refusal = self._refusal()
            if refusal is not None:
                _refusals(refusal, f"refused connections: {refusal}")
                transport.write(_BUSY)
                transport.close()
                return
            self._start_header_deadline()

        def _refusal(self) -> str | None:
            """Why this new connection is one too many, or None."""
            if len(self.connections) > limits.max_connections:
                return f"more than {limits.max_connections} open connections"
            host = self.client[0] if self.client else None
            same = sum(1 for c in self.connections if (getattr(c, "client", None) or (None,))[0] == host)
            if host is not None and same > limits.max_per_client:
                return f"more than {limits.max_per_client} open connections from one client"
            return None

        def _start_header_deadline(self) -> None:
            if self._header_deadline is None:
                self._header_deadline = self.loop.call_later(limits.header_timeout_s, self._headers_too_slow)

        def _headers_too_slow(self) -> None:
            self._header_deadline = None
            if self.transport is not None and not self.transport.is_closing():
                message = f"closed connections that sent no headers within {limits.header_timeout_s:g} s"
                _refusals("slow headers", message)
                self.transport.write(_TIMEOUT)
                self.transport.close()

        def _cancel_header_deadline(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._start_header_deadline()  # a keep-alive connection's next request gets its own deadline

        def on_headers_complete(self) -> None:
            self._cancel_header_deadline()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_deadline()
            super().connection_lost(exc)

    return LimitedHttpProtocol


def raise_open_file_limit() -> int:
    """Lift the soft limit on open files to the hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


class _AcceptErrorFilter(logging.Filter):
    """Passes asyncio's failed-``accept()`` records through :class:`_RateLimitedLog` instead of logging each."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "accept" not in record.getMessage():
            return True
        _refusals("accept failed", "accept() failed (out of file descriptors?)")
        return False


def quiet_accept_errors() -> None:
    """Install the accept-error filter on asyncio's logger (idempotent)."""
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, _AcceptErrorFilter) for f in logger.filters):
        logger.addFilter(_AcceptErrorFilter())
