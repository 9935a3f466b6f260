"""Shared fixtures: the real recordings, and a real service on a free port."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
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
        cfg = Config.from_env({}, host="127.0.0.1", port=0, **config).with_token()

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
        params = "&".join(f"{k}={v}" for k, v in {"token": self.token, **query}.items())
        return f"ws://127.0.0.1:{self.port}/ws/sessions/{session_id}?{params}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def close(self) -> None:
        self.call(self.service.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def running_service() -> Iterator[RunningService]:
    """A real DyadScope service on a free loopback port."""
    service = RunningService()
    try:
        yield service
    finally:
        service.close()
