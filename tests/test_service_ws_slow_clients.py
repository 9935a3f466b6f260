"""Slow and many websocket clients, against a real service over real sockets.

A client that stops reading is a real TCP socket whose owner stops calling
``recv`` (the websocket protocol spoken with websockets' sans-I/O client, so
the test decides exactly when bytes are read).
"""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from dyadscope.service.event_feed import FRAME_CHARS, FRAME_EVENTS
from dyadscope.stream.types import Feature

SLOW_CLIENT_S = 4.0  # the service's bound in these tests (10 s by default)


class RawClient:
    """A websocket client on a plain socket that reads only when told to."""

    def __init__(self, url: str, headers: dict[str, str]):
        uri = parse_uri(url)
        self.sock = socket.create_connection((uri.host, uri.port), timeout=30)
        self.protocol = ClientProtocol(uri, max_size=None)
        self.messages: list[str] = []  # events may come in the same read as the handshake's answer
        request = self.protocol.connect()
        for name, value in headers.items():
            request.headers[name] = value
        self.protocol.send_request(request)
        self._flush()
        while self.protocol.state is State.CONNECTING:
            self._read()
        assert self.protocol.state is State.OPEN, self.protocol.handshake_exc

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            try:
                if data:
                    self.sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                return  # the server closed first (after its close frame): nothing to answer

    def _read(self, answer: bool = True) -> None:
        data = self.sock.recv(1 << 16)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        for event in self.protocol.events_received():
            if getattr(event, "opcode", None) is Opcode.TEXT:
                self.messages.append(event.data.decode())
        if answer:
            self._flush()  # pongs, and the answer to a close

    def read_until(self, done, answer: bool = True) -> None:
        """Read until ``done()`` or the connection closes; ``answer``: answer pings on the way.

        A client that was closed while it did not read must read up to the close frame before it
        answers anything: pongs to the pings still in its buffer would reach a socket the service
        has closed, whose reset drops what the client has not read yet.
        """
        while not done() and self.protocol.state is not State.CLOSED and self.protocol.close_rcvd is None:
            self._read(answer)

    def events(self) -> list[dict]:
        out: list[dict] = []
        for message in self.messages:
            data = json.loads(message)
            out.extend(data if isinstance(data, list) else [data])
        return out

    def close(self) -> None:
        self.sock.close()


def _open_session(service, session_id: str) -> None:
    r = httpx.post(f"{service.base}/api/sessions", json={"id": session_id, "lsl": False}, headers=service.headers)
    assert r.status_code == 201, r.text


def _emit(service, session_id: str, n: int, size: int = 0) -> None:
    session = service.service.manager.get(session_id)

    async def emit() -> None:
        for _ in range(n):
            seq = session.log.last_seq + 1
            await session.log.emit(Feature("marker", None, float(seq), {"text": "x" * size}))

    service.call(emit())


def _seqs(events: list[dict]) -> list[int]:
    return [e["seq"] for e in events]


def test_a_client_that_stops_reading_gets_1013_and_the_others_keep_receiving(make_service, caplog):
    caplog.set_level(logging.INFO, logger="dyadscope.service.ws_protocol")
    service = make_service(slow_client_s=SLOW_CLIENT_S)
    _open_session(service, "s1")
    _emit(service, "s1", 50, size=200)
    slow = RawClient(service.ws_url("s1"), service.headers)  # reads nothing from here on
    with service.ws("s1") as calm:
        emitted = 50
        assert [json.loads(calm.recv(timeout=30))["seq"] for _ in range(50)] == list(range(1, 51))
        while "too slow" not in caplog.text:  # the service decides on its own, per connection
            _emit(service, "s1", 20, size=200)
            seen = [json.loads(calm.recv(timeout=30))["seq"] for _ in range(20)]
            assert seen == list(range(emitted + 1, emitted + 21))
            emitted += 20
            assert emitted < 10_000, "the slow client was never closed"
            time.sleep(0.05)  # ~400 events/s: more than a session logs
        assert caplog.text.count("too slow") == 1  # only the one that stopped reading
        _emit(service, "s1", 5)
        # The calm client keeps getting everything, in order, once.
        assert [json.loads(calm.recv(timeout=30))["seq"] for _ in range(5)] == list(range(emitted + 1, emitted + 6))
    slow.read_until(lambda: False, answer=False)  # now it reads: what it was sent, then the close
    assert slow.protocol.close_rcvd is not None and slow.protocol.close_rcvd.code == 1013
    assert "after=" in slow.protocol.close_rcvd.reason
    got = _seqs(slow.events())
    assert got == list(range(1, len(got) + 1))  # in order, none twice: it resumes after got[-1]
    assert got[-1] < emitted + 5
    slow.close()


def test_resume_from_the_start_sends_every_event_once_in_order_in_bounded_batches(make_service):
    service = make_service(event_log_length=3000)
    _open_session(service, "s1")
    _emit(service, "s1", 3000, size=100)
    resumer = RawClient(service.ws_url("s1", after=0, batch=1), service.headers)
    _emit(service, "s1", 10)  # live ones arrive while it resumes
    resumer.read_until(lambda: len(resumer.events()) >= 3010)
    assert _seqs(resumer.events()) == list(range(1, 3011))
    batches = [json.loads(m) for m in resumer.messages]
    assert all(isinstance(b, list) and 1 <= len(b) <= FRAME_EVENTS for b in batches)
    assert len(batches) >= 3000 / FRAME_EVENTS  # in steps, not one message
    longest_event = max(len(json.dumps(e, separators=(",", ":"))) for e in resumer.events())
    assert max(len(m) for m in resumer.messages) <= FRAME_CHARS + longest_event + 2
    resumer.close()


def test_live_clients_are_served_while_many_resume(make_service):
    service = make_service(event_log_length=5000)
    _open_session(service, "s1")
    _emit(service, "s1", 5000, size=300)
    with service.ws("s1", after=5000) as live:
        resumers = [RawClient(service.ws_url("s1", after=0, batch=1), service.headers) for _ in range(20)]
        time.sleep(0.5)  # they are catching up, but read nothing yet: their cursors stay far back
        for n in range(5001, 5006):
            _emit(service, "s1", 1)
            assert json.loads(live.recv(timeout=30))["seq"] == n  # not stuck behind 20 resumes
        for resumer in resumers:
            resumer.read_until(lambda r=resumer: len(r.events()) >= 5005)
            assert _seqs(resumer.events()) == list(range(1, 5006))
            resumer.close()


def test_a_monitor_that_reads_slowly_through_a_long_resume_is_behind_not_stuck(make_service, caplog):
    caplog.set_level(logging.INFO, logger="dyadscope.service.ws_protocol")
    service = make_service(slow_client_s=SLOW_CLIENT_S, event_log_length=2000)
    _open_session(service, "s1")
    _emit(service, "s1", 2000, size=300)  # ~0.7 MB: at 64 kB/s its pings wait behind its buffers for seconds
    resumer = RawClient(service.ws_url("s1", after=0, batch=1), service.headers)
    resumer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 17)
    while len(resumer.events()) < 2000 and resumer.protocol.close_rcvd is None:
        resumer.sock.settimeout(30)
        resumer.protocol.receive_data(resumer.sock.recv(1 << 14))
        for event in resumer.protocol.events_received():
            if getattr(event, "opcode", None) is Opcode.TEXT:
                resumer.messages.append(event.data.decode())
        resumer._flush()
        time.sleep(0.25)  # 16 kB per quarter second
    assert resumer.protocol.close_rcvd is None and "too slow" not in caplog.text
    assert _seqs(resumer.events()) == list(range(1, 2001))
    resumer.close()
