"""uvicorn's websocket protocol, closing a client too slow to read with 1013.

The server pings every websocket each ``slow_client_s / 2`` seconds. A pong
can only come back once the client has read everything sent before its ping,
so the wait for it is how far behind that one connection reads, whatever the
kernel buffers. A client that has not answered within ``slow_client_s`` is
sent 1013 (try again later) behind what it has not read yet, and cut off if
it still reads nothing for the close timeout; it reconnects and resumes with
``after=<last seq>``. (uvicorn itself would close it with 1011.)
"""

from __future__ import annotations

import logging

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from dyadscope.service.routes_ws import CLOSE_TRY_AGAIN

log = logging.getLogger(__name__)


class SlowClientClosingProtocol(WebSocketsSansIOProtocol):
    """An unanswered keepalive ping closes with 1013 (pass as ``uvicorn.Config(ws=...)``)."""

    def keepalive_timeout(self) -> None:
        if not (self.close_sent or self.transport.is_closing()):
            log.info("a websocket client is too slow to read its events; closing it (1013) so it resumes")
            self.conn.send_close(CLOSE_TRY_AGAIN, "client too slow; reconnect with after=<last seq>")
            self.loop.call_later(self.close_timeout, self._cut_off)
        super().keepalive_timeout()  # sends what is queued (the 1013 frame) and closes

    def _cut_off(self) -> None:
        if not self.disconnected:  # still has not read up to the close frame: drop what it did not take
            self.transport.abort()
