"""The sessions a service runs, and how their sensors are attached."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from dyadscope.stream.bus import Bus
from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.types import StreamInfo

from .config import Config
from .session import Session

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class SessionError(ValueError):
    """A session request that cannot be honoured (bad id, duplicate ...)."""


class SessionManager:
    """Creates, finds and stops sessions; one pipeline per session."""

    def __init__(self, config: Config, bus: Bus, pipeline_factory: Callable[[], Pipeline]):
        self.config = config
        self.bus = bus
        self._pipeline_factory = pipeline_factory
        self._sessions: dict[str, Session] = {}
        #: Called with a session's id when it stops, before it drains.
        self.stop_hooks: list[Callable[[str], Awaitable[None]]] = []

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def all(self) -> list[Session]:
        return list(self._sessions.values())

    async def create(
        self, session_id: str, *, lsl: bool = True, select: Callable[[StreamInfo], bool] | None = None
    ) -> Session:
        """Start a session; with ``lsl``, it ingests the LSL streams it can assign.

        ``select`` narrows which assigned streams it takes (default: all).
        """
        if not SESSION_ID.match(session_id):
            raise SessionError("session id must be 1-64 letters, digits, '_' or '-'")
        if session_id in self._sessions:
            raise SessionError(f"session {session_id!r} already exists")
        session = Session(
            session_id,
            self.bus,
            self._pipeline_factory(),
            queue_length=self.config.ingest_queue_length,
        )
        await session.start()
        self._sessions[session_id] = session
        if lsl:
            attach_lsl(session, self.config.assign, select)
        return session

    async def stop(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            for hook in self.stop_hooks:
                await hook(session_id)
            await session.stop()

    async def stop_all(self) -> None:
        for session_id in list(self._sessions):
            await self.stop(session_id)


def attach_lsl(
    session: Session, assign: tuple[str, ...] = (), select: Callable[[StreamInfo], bool] | None = None
) -> None:
    """Feed a session from the LSL streams that can be assigned a role and modality."""
    from dyadscope.sensors.lsl import LslIngest, local_clock

    def on_status(kind: str, info: StreamInfo, data: dict) -> None:
        if kind in ("stream_found", "stream_returned"):
            session.stream_seen(info)
        session.report(kind, info, t=local_clock(), **data)

    ingest = LslIngest(on_chunk=session.submit, on_status=on_status, overrides=assign, select=select)
    ingest.start()
    session.on_stop(lambda: asyncio.to_thread(ingest.stop))
