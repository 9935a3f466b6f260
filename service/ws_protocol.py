"""uvicorn's websocket protocol, closing a client too slow to read with 1013.

The server pings every websocket each ``slow_client_s / 2`` seconds. A pong
can only come back once the client has read everything sent before its ping,
so the wait for it is how far behind that one connection reads, whatever the
kernel buffers. A client that has not answered within ``slow_client_s`` is
sent 1013 (try again later) unless its send buffers were full lately and it
has taken some of them since (a monitor working through a long resume is
behind, not stuck: it gets up to ``PATIENCE`` bounds in all); the 1013
goes behind what it has not read yet, and cut off if it still reads nothing for
the close timeout; it reconnects and resumes with ``after=<last seq>``.
(uvicorn itself would close it with 1011.)

Each websocket's send buffers (the kernel's and the transport's) are kept
to about ``SEND_BUFFER_BYTES`` each, so what a connection has not sent yet
waits in the session's log, behind its cursor, rather than in buffers: a
monitor resuming from far back gets its events at the pace it reads them,
and its pings are not queued behind megabytes.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import socket
import struct
import termios

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from dyadscope.service.routes_ws import CLOSE_TRY_AGAIN

log = logging.getLogger(__name__)

#: Bound of each websocket's kernel send buffer and of its transport's, bytes.
SEND_BUFFER_BYTES = 65_536
#: A client taking a backlog gets at most this many bounds for its pong.
PATIENCE = 3


class SlowClientClosingProtocol(WebSocketsSansIOProtocol):
    """An unanswered keepalive ping closes with 1013 (pass as ``uvicorn.Config(ws=...)``)."""

    _full_at = _drained_at = float("-inf")  # when its send buffers were last full, and drained (loop time)
    _checked_at = 0.0  # when the last ping went out, or its deadline was last checked (loop time)
    _unsent_at_check = 0  # bytes the client had not taken then

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._sock = transport.get_extra_info("socket")
        if self._sock is not None:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        self.transport.set_write_buffer_limits(high=SEND_BUFFER_BYTES)

    def pause_writing(self) -> None:
        super().pause_writing()
        self._full_at = self.loop.time()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._drained_at = self.loop.time()

    def send_keepalive_ping(self) -> None:
        self._checked_at, self._unsent_at_check = self.loop.time(), self._unsent()
        super().send_keepalive_ping()

    def keepalive_timeout(self) -> None:
        unsent, now = self._unsent(), self.loop.time()
        full_lately = max(self._full_at, self._drained_at) > self.ping_sent_at - self.ping_timeout
        taking = self._drained_at > self._checked_at or unsent < self._unsent_at_check or unsent == 0
        if full_lately and taking and now - self.ping_sent_at < PATIENCE * self.ping_timeout:
            # Its buffers were full and it keeps taking them: behind a backlog
            # (a resume), not stuck. Wait for the pong another bound.
            self._checked_at, self._unsent_at_check = now, unsent
            self.pong_timer = self.loop.call_later(self.ping_timeout, self.keepalive_timeout)
            return
        if not (self.close_sent or self.transport.is_closing()):
            log.info("a websocket client is too slow to read its events; closing it (1013) so it resumes")
            self.conn.send_close(CLOSE_TRY_AGAIN, "client too slow; reconnect with after=<last seq>")
            self.loop.call_later(self.close_timeout, self._cut_off)
        super().keepalive_timeout()  # sends what is queued (the 1013 frame) and closes

    def _unsent(self) -> int:
        """Bytes written but not yet acknowledged by the client: the transport's and the kernel's."""
        queued = self.transport.get_write_buffer_size()
        if self._sock is not None and hasattr(termios, "TIOCOUTQ"):
            try:
                queued += struct.unpack("i", fcntl.ioctl(self._sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
            except OSError:
                pass  # not a TCP socket the kernel can say this of
        return queued

    def _cut_off(self) -> None:
        if not self.disconnected:  # still has not read up to the close frame: drop what it did not take
            self.transport.abort()
