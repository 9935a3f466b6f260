"""The sessions a service runs, and how their sensors are attached."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from dyadscope.stream.bus import Bus
from dyadscope.stream.history import History, SessionSummary, check_id
from dyadscope.stream.processors.baseline import Baseline
from dyadscope.stream.processors.registry import default_pipeline
from dyadscope.stream.types import ROLES, Role, StreamInfo

from .config import Config
from .session import Session

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class SessionError(ValueError):
    """A session request that cannot be honoured (bad id, duplicate ...)."""


class SessionManager:
    """Creates, finds and stops sessions; one pipeline per session.

    A session whose participants are named (pseudonymous ids per role) gets
    live deviations from each person's past sessions, and leaves its own
    summary in the history when it stops.
    """

    def __init__(self, config: Config, bus: Bus):
        self.config = config
        self.bus = bus
        self._sessions: dict[str, Session] = {}
        self._summaries: dict[str, SessionSummary] = {}
        #: Called with a session's id when it stops, before it drains.
        self.stop_hooks: list[Callable[[str], Awaitable[None]]] = []

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def all(self) -> list[Session]:
        return list(self._sessions.values())

    async def create(
        self,
        session_id: str,
        *,
        lsl: bool = True,
        select: Callable[[StreamInfo], bool] | None = None,
        participants: dict[Role, str] | None = None,
    ) -> Session:
        """Start a session; with ``lsl``, it ingests the LSL streams it can assign.

        ``select`` narrows which assigned streams it takes (default: all);
        ``participants`` maps roles to pseudonymous participant ids.
        """
        if not SESSION_ID.match(session_id):
            raise SessionError("session id must be 1-64 letters, digits, '_' or '-'")
        if session_id in self._sessions:
            raise SessionError(f"session {session_id!r} already exists")
        participants = dict(participants or {})
        for role, participant in participants.items():
            if role not in ROLES:
                raise SessionError(f"unknown role {role!r}; use {' or '.join(ROLES)}")
            try:
                check_id(participant)
            except ValueError as exc:
                raise SessionError(str(exc)) from None
        summary = SessionSummary()
        norms = await asyncio.to_thread(self._norms, session_id, participants)
        pipeline = default_pipeline(baseline=Baseline(self.config.baseline_s), summary=summary, norms=norms)
        session = Session(
            session_id,
            self.bus,
            pipeline,
            queue_length=self.config.ingest_queue_length,
            participants=participants,
        )
        await session.start()
        self._sessions[session_id] = session
        self._summaries[session_id] = summary
        if lsl:
            attach_lsl(session, self.config.assign, select)
        return session

    async def stop(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            for hook in self.stop_hooks:
                await hook(session_id)
            await session.stop()
            summary = self._summaries.pop(session_id)
            if session.participants:
                await asyncio.to_thread(self._record, session, summary)

    async def stop_all(self) -> None:
        for session_id in list(self._sessions):
            await self.stop(session_id)

    def _norms(self, session_id: str, participants: dict[Role, str]) -> dict:
        if not participants:
            return {}
        with History(self.config.data_dir) as history:
            return {role: history.norms(pid, exclude_session=session_id) for role, pid in participants.items()}

    def _record(self, session: Session, summary: SessionSummary) -> None:
        with History(self.config.data_dir) as history:
            for role, participant in session.participants.items():
                history.record(participant, session.id, summary.summary(role))


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
