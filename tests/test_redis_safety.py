"""Redis as the bus, safe to use: a password-protected ACL user, TLS, signed events, and an outage survived.

Every test runs a real ``redis-server`` (configured per test, killed and
started again on the same port where the test needs an outage).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx
import pytest
import redis
from _redis_support import BUS_ACL, RedisServer

from dyadscope.service.errors import CliError
from dyadscope.service.tls import issue_server_certificate
from dyadscope.stream.events import events_topic
from dyadscope.stream.types import Feature

PASSWORD = "correct-horse-battery-staple"
ACL = ("user default off", f"user dyadscope on >{PASSWORD} {BUS_ACL}")
WAIT = 30.0  # s, at most, for anything the service does (a shared machine may be slow)


@pytest.fixture
def acl_redis(tmp_path) -> RedisServer:
    """A redis-server whose only user is the bus's ACL user (the default user is off)."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder, ACL).start()
    yield server
    server.kill()


def _open_session(service, session_id: str) -> httpx.Response:
    return httpx.post(f"{service.base}/api/sessions", json={"id": session_id, "lsl": False}, headers=service.headers)


def _emit(service, session_id: str, bpms: list[float]) -> None:
    log = service.service.manager.get(session_id).log

    async def emit() -> None:
        for i, bpm in enumerate(bpms):
            await log.emit(Feature("heart_rate", "patient", float(i), {"bpm": bpm}))

    service.call(emit())


def _receive_until(ws, seq: int) -> list[dict]:
    """Events from ``ws`` until one with ``seq`` (or later) arrives."""
    events: list[dict] = []
    while not events or events[-1]["seq"] < seq:
        events.append(json.loads(ws.recv(timeout=WAIT)))
    return events


def test_an_acl_user_runs_the_bus_and_a_wrong_password_is_a_clear_start_up_error(acl_redis, make_service, tmp_path):
    data = tmp_path / "data"
    service = make_service(bus=acl_redis.url("dyadscope", PASSWORD), data_dir=data)
    assert _open_session(service, "acl").status_code == 201
    _emit(service, "acl", [61.0, 62.0])
    with service.ws("acl") as ws:
        assert [e["data"]["bpm"] for e in _receive_until(ws, 2)] == [61.0, 62.0]
    assert (data / "bus.key").stat().st_mode & 0o777 == 0o600  # the signing key, made once, for its owner only

    # a process without the password can neither inject events nor stop them by setting the counter
    stranger = redis.Redis(port=acl_redis.port)
    for command in (lambda: stranger.set("dyadscope:session:acl:events:last", 10**9), lambda: stranger.keys("*")):
        with pytest.raises(redis.exceptions.AuthenticationError):
            command()
    # and the bus's own user may touch only the bus's keys, with the bus's commands
    user = redis.Redis(port=acl_redis.port, username="dyadscope", password=PASSWORD)
    for command in (user.flushall, lambda: user.set("other:key", 1), lambda: user.config_get("*")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            command()

    for url in (acl_redis.url("dyadscope", "not-the-password"), acl_redis.url()):
        with pytest.raises(CliError) as refused:
            make_service(bus=url, data_dir=data)
        message = str(refused.value)
        assert "authentication failed" in message and "check the user and password" in message
        assert "not-the-password" not in message


def test_forged_and_replayed_events_never_reach_a_monitor(redis_url, make_service, tmp_path, caplog):
    service = make_service(bus=redis_url, data_dir=tmp_path)
    assert _open_session(service, "forge").status_code == 201
    _emit(service, "forge", [61.0, 62.0])
    raw = redis.Redis.from_url(redis_url)  # a local process with access to an unprotected Redis
    key = "dyadscope:" + events_topic("forge")
    (_, genuine), _ = raw.xrange(key)
    forged = {"session": "forge", "seq": 3, "t": 2.0, "t_emit": time.time(), "kind": "heart_rate", "role": "patient"}
    forged["data"] = {"bpm": 188.0, "quality": "good"}
    raw.xadd(key, {"m": json.dumps(forged), "s": "0" * 64}, id="0-3")  # a made-up signature
    raw.xadd(key, {"m": json.dumps({**forged, "seq": 4})}, id="0-4")  # none at all
    raw.xadd(key, genuine, id="0-5")  # event 1, signature and all, replayed as event 5
    raw.xadd(key, {"m": b"\xff\xfe", "s": "é".encode()}, id="0-6")  # not even UTF-8
    raw.set(key + ":last", 6)
    with caplog.at_level(logging.WARNING, logger="dyadscope.stream.redis_bus"):
        # our next numbers (3-6) are taken: those four reach only a recording; 7 and 8 get through
        _emit(service, "forge", [63.0, 64.0, 65.0, 66.0, 67.0, 68.0])
        for _ in range(2):  # two monitors read past the same forged entries
            with service.ws("forge") as ws:
                received = _receive_until(ws, 8)
                assert [(e["seq"], e["data"]["bpm"]) for e in received] == [(1, 61.0), (2, 62.0), (7, 67.0), (8, 68.0)]
    dropped = [r for r in caplog.records if "did not sign" in r.getMessage()]
    assert len(dropped) == 1  # one line, however many entries and reads
    # each read of the log past them drops all four; the session's one fan-out may serve both monitors from one read
    assert service.service.bus.dropped in (4, 8)


def test_rediss_with_a_certificate_from_the_local_ca(make_service, tmp_path):
    issued = issue_server_certificate(tmp_path / "tls", [], ["127.0.0.1"])
    folder = tmp_path / "redis"
    folder.mkdir()
    tls = (
        f"tls-cert-file {issued.server_cert}",
        f"tls-key-file {issued.server_key}",
        f"tls-ca-cert-file {issued.ca_cert}",
        "tls-auth-clients no",  # clients prove themselves with the ACL password, not a certificate
    )
    server = RedisServer(folder, (*ACL, *tls), tls=True).start()
    try:
        url = server.url("dyadscope", PASSWORD)
        assert url.startswith("rediss://")
        service = make_service(bus=url, bus_ca_file=issued.ca_cert, data_dir=tmp_path / "data")
        assert _open_session(service, "tls").status_code == 201
        _emit(service, "tls", [71.0])
        with service.ws("tls") as ws:
            assert [e["data"]["bpm"] for e in _receive_until(ws, 1)] == [71.0]
        with pytest.raises(CliError, match="certificate verify failed"):  # without our CA: not trusted
            make_service(bus=url, data_dir=tmp_path / "data")
        with pytest.raises(CliError, match="ssl|SSL|Connection"):  # plain redis:// to a TLS port
            make_service(bus=url.replace("rediss://", "redis://"), data_dir=tmp_path / "data")
    finally:
        server.kill()


def test_a_redis_that_refuses_entries_counts_as_unavailable(tmp_path, caplog):
    from dyadscope.stream.bus import BusUnavailable, open_bus
    from dyadscope.stream.events import EventLog

    no_xadd = BUS_ACL.replace(" +xadd", "")  # an ACL line that forgot a command
    server = RedisServer(tmp_path, ("user default off", f"user dyadscope on >{PASSWORD} {no_xadd}")).start()

    async def scenario() -> int:
        bus = open_bus(server.url("dyadscope", PASSWORD), key=b"test-signing-key-0123456789")
        log = EventLog("refused", bus)
        try:
            await bus.check()
            for i in range(3):
                with pytest.raises(BusUnavailable, match="can't run this command"):
                    await log.emit(Feature("heart_rate", "patient", float(i), {"bpm": 60.0}))
                await asyncio.sleep(1.1)  # past the retry pause: each emit really tries
            return log.unsent
        finally:
            await bus.close()

    try:
        with caplog.at_level(logging.WARNING):
            assert asyncio.run(scenario()) == 3  # kept, not lost as "already there"
    finally:
        server.kill()
    assert len(caplog.records) == 1, [r.getMessage() for r in caplog.records]  # once a minute, however it flaps
