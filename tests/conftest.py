"""Shared fixtures: the real recordings, and a real service on a free port."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def _shared_data() -> Path:
    env = os.environ.get("DYADSCOPE_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real recordings (see shared/data/README.md)."""
    path = _shared_data()
    if not path.is_dir():
        pytest.fail(f"real recordings not found at {path}; set DYADSCOPE_SHARED_DATA")
    return path


class RunningService:
    """A real service on loopback, driven from a background event loop."""

    def __init__(self, **config: Any):
        from dyadscope.service.config import Config
        from dyadscope.service.runner import Service

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="service-loop", daemon=True)
        self._thread.start()
        cfg = Config.from_env({}, **{"host": "127.0.0.1", "port": 0, **config}).with_token()

        async def make() -> Service:
            service = Service(cfg)
            await service.start()
            return service

        self.service = self.call(make())
        self.token = cfg.token
        self.port = self.service.port
        self.base = f"http://127.0.0.1:{self.port}"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the service's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def ws_url(self, session_id: str, **query: Any) -> str:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        return f"ws://127.0.0.1:{self.port}/ws/sessions/{session_id}" + (f"?{params}" if params else "")

    def ws(self, session_id: str, **query: Any):
        """A websocket client of a session's events, authorised by header."""
        from websockets.sync.client import connect

        return connect(self.ws_url(session_id, **query), additional_headers=self.headers)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def close(self) -> None:
        self.call(self.service.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def make_service() -> Iterator[Callable[..., RunningService]]:
    """A factory of real services (``Config`` fields as keywords), closed after the test."""
    started: list[RunningService] = []

    def make(**config: Any) -> RunningService:
        started.append(RunningService(**config))
        return started[-1]

    yield make
    for service in started:
        service.close()


@pytest.fixture
def running_service(make_service) -> RunningService:
    """A real DyadScope service on a free loopback port."""
    return make_service()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A real, throw-away redis-server on a free loopback port (no password: the bus's own tests)."""
    from _redis_support import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url()
    finally:
        server.kill()


@pytest.fixture
def simulated_session(make_service) -> Iterator[Callable[..., tuple[RunningService, str]]]:
    """A factory: a real service with session ``session_id`` fed by a simulated dyad over real LSL.

    Only that dyad's streams (tagged uniquely) join the session.
    """
    from dyadscope.sensors.lsl import local_clock
    from dyadscope.sensors.lsl_outlets import LslPublisher
    from dyadscope.sensors.simulate import SimulatedDyad

    publishers: list[LslPublisher] = []

    def start(session_id: str, seed: int = 5, **config: Any) -> tuple[RunningService, str]:
        service = make_service(**config)
        publisher = LslPublisher(SimulatedDyad(seed, start_time=local_clock(), tag=uuid.uuid4().hex[:8]))
        ours = {info.source_id for info in publisher.streams}
        publisher.start()
        publishers.append(publisher)
        service.call(service.service.manager.create(session_id, select=lambda info: info.source_id in ours))
        return service, session_id

    yield start
    for publisher in publishers:
        publisher.stop()


@pytest.fixture(scope="session")
def simulated_physio():
    """Per seed, the simulated dyad's per-person physiology features (see ``tests/_sim_support.py``)."""
    from _sim_support import SIM_SEEDS, physio_features

    return {seed: physio_features(seed) for seed in SIM_SEEDS}
