"""uvicorn's websocket protocol, closing a client too slow to read with 1013.

The server pings every websocket each ``slow_client_s / 2`` seconds. A pong
can only come back once the client has read everything sent before its ping,
so the wait for it is how far behind that one connection reads, whatever the
kernel buffers. A client that has not answered within ``slow_client_s``, and
whose full send buffers have not drained in that time either (a monitor
working through a long resume still takes 48 kB or more each
``slow_client_s``: it is behind, not stuck), is sent 1013 (try again later)
behind what it has not read yet, and cut off if it still reads nothing for
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
import logging
import socket

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from dyadscope.service.routes_ws import CLOSE_TRY_AGAIN

log = logging.getLogger(__name__)

#: Bound of each websocket's kernel send buffer and of its transport's, bytes.
SEND_BUFFER_BYTES = 65_536


class SlowClientClosingProtocol(WebSocketsSansIOProtocol):
    """An unanswered keepalive ping closes with 1013 (pass as ``uvicorn.Config(ws=...)``)."""

    _drained_at = float("-inf")  # when its send buffers last drained after being full (loop time)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        self.transport.set_write_buffer_limits(high=SEND_BUFFER_BYTES)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._drained_at = self.loop.time()

    def keepalive_timeout(self) -> None:
        if self.loop.time() - self._drained_at < self.ping_timeout:
            # Its full buffers drained within the bound: it reads, only behind a
            # backlog (a resume). Wait for the pong another bound.
            self.pong_timer = self.loop.call_later(self.ping_timeout, self.keepalive_timeout)
            return
        if not (self.close_sent or self.transport.is_closing()):
            log.info("a websocket client is too slow to read its events; closing it (1013) so it resumes")
            self.conn.send_close(CLOSE_TRY_AGAIN, "client too slow; reconnect with after=<last seq>")
            self.loop.call_later(self.close_timeout, self._cut_off)
        super().keepalive_timeout()  # sends what is queued (the 1013 frame) and closes

    def _cut_off(self) -> None:
        if not self.disconnected:  # still has not read up to the close frame: drop what it did not take
            self.transport.abort()
