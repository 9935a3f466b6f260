"""The sessions a service runs, how their sensors are attached, and their recordings."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dyadscope.service.config import Config
from dyadscope.service.recording import SessionRecording
from dyadscope.service.rigs import ProfileMissing, RigProfiles
from dyadscope.service.session import Session
from dyadscope.service.session_lsl import attach_lsl
from dyadscope.stream import kinds
from dyadscope.stream.assign import parse_override
from dyadscope.stream.bus import Bus, BusUnavailable
from dyadscope.stream.processors.physio.baseline import Baseline, BaselineConfig
from dyadscope.stream.processors.physio.history import History, SessionSummary, check_id
from dyadscope.stream.processors.registry import default_pipeline
from dyadscope.stream.selection import SelectionError, StreamClaims, StreamSelection
from dyadscope.stream.types import ROLES, Role, StreamInfo
from dyadscope.xdf.recorder import RecordingError

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class SessionError(ValueError):
    """A session request that cannot be honoured (bad id, unknown role ...)."""


class SessionConflict(SessionError):
    """A request that clashes with a running session (the API answers 409 Conflict)."""


class SessionExists(SessionConflict):
    """A session with that id is running or being created."""


def recordings_root(config: Config) -> Path:
    """The folder below which sessions are recorded (``<data_dir>/recordings``)."""
    return config.data_dir / "recordings"


def _session_clock() -> float:
    from dyadscope.sensors.lsl import local_clock  # loads liblsl only when needed

    return local_clock()


class SessionManager:
    """Creates, finds and stops sessions; one pipeline per session.

    A session whose participants are named (pseudonymous ids per role) gets
    live deviations from each person's past sessions, and leaves its own
    summary in the history when it stops. A session can be recorded into
    :func:`recordings_root` (:meth:`start_recording`); stopping the session
    stops its recording.

    Each session takes the LSL streams its :class:`StreamSelection` admits
    (from a rig profile, :attr:`profiles`, and the request); :attr:`claims`
    keeps two sessions from taking the same stream: the first to find it
    keeps it until it stops, the other never gets it.
    """

    def __init__(self, config: Config, bus: Bus):
        self.config = config
        self.bus = bus
        self._sessions: dict[str, Session] = {}
        self._summaries: dict[str, SessionSummary] = {}
        self._creating: set[str] = set()
        self._stopping: list[Session] = []  # popped, still draining: their events still count
        self._events_of_stopped = 0
        self.claims = StreamClaims()
        self.profiles = RigProfiles(config.data_dir)
        #: Called with a session's id when it stops, before it drains.
        self.stop_hooks: list[Callable[[str], Awaitable[None]]] = []

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def all(self) -> list[Session]:
        return list(self._sessions.values())

    @property
    def events_logged(self) -> int:
        """Events the sessions logged since this manager began, stopped ones included (never decreases)."""
        return self._events_of_stopped + sum(s.events_logged for s in [*self._sessions.values(), *self._stopping])

    async def create(
        self,
        session_id: str,
        *,
        lsl: bool = True,
        select: Callable[[StreamInfo], bool] | None = None,
        participants: dict[Role, str] | None = None,
        therapists: tuple[str, ...] = (),
        selection: StreamSelection | None = None,
        profile: str | None = None,
    ) -> Session:
        """Start a session; with ``lsl``, it ingests the LSL streams it can assign.

        ``profile`` (a saved rig profile's name) and ``selection`` say which
        streams it takes, before any inlet is opened (default: every stream no
        other session holds); a profile another running session uses is a
        :class:`SessionConflict`. ``select`` narrows further on the assigned
        streams (default: all);
        ``participants`` maps roles to pseudonymous participant ids;
        ``therapists`` are the user names that may see and run it.
        """
        if not SESSION_ID.fullmatch(session_id):
            raise SessionError("session id must be 1-64 letters, digits, '_' or '-'")
        if session_id in self._sessions or session_id in self._creating:
            raise SessionExists(f"session {session_id!r} already exists")
        chosen = self._selection(profile, selection or StreamSelection())
        self._creating.add(session_id)  # before the first await: two requests cannot both pass
        try:
            session = await self._create(session_id, lsl, select, dict(participants or {}), chosen)
            session.therapists, session.profile = tuple(therapists), profile
            return session
        finally:
            self._creating.discard(session_id)

    async def _create(
        self,
        session_id: str,
        lsl: bool,
        select: Callable[[StreamInfo], bool] | None,
        participants: dict[Role, str],
        selection: StreamSelection,
    ) -> Session:
        for role, participant in participants.items():
            if role not in ROLES:
                raise SessionError(f"unknown role {role!r}; use {' or '.join(ROLES)}")
            try:
                check_id(participant)
            except ValueError as exc:
                raise SessionError(str(exc)) from None
        summary = SessionSummary()
        norms = await asyncio.to_thread(self._norms, participants)
        baseline = Baseline(BaselineConfig(self.config.baseline_s))
        pipeline = default_pipeline(baseline=baseline, summary=summary, norms=norms)

        def recording_failed(state: dict[str, Any]) -> None:  # disk full ...: say so in the session's log
            session.report(kinds.RECORDING_STOPPED, None, _session_clock(), **state)

        # who is who, for exports (BIDS: one subject per person); pseudonymous ids only
        metadata = {"dyadscope_session": session_id, **{f"participant_{r}": p for r, p in participants.items()}}
        recording = SessionRecording(recordings_root(self.config), metadata=metadata, on_stopped=recording_failed)
        session = Session(
            session_id,
            self.bus,
            pipeline,
            recording=recording,
            queue_length=self.config.ingest_queue_length,
            backlog=self.config.event_log_length,
            participants=participants,
        )
        session.selection = selection
        await session.start()
        if lsl:
            try:
                attach_lsl(session, self.config.assign, select, claims=self.claims)
            except ValueError as exc:  # an assignment the ingest cannot parse
                await session.stop()
                raise SessionError(str(exc)) from None
        self._sessions[session_id] = session
        self._summaries[session_id] = summary
        return session

    def _selection(self, profile: str | None, selection: StreamSelection) -> StreamSelection:
        """The request's selection with its profile's (SessionError if missing, SessionConflict if in use)."""
        if profile is None:
            return selection
        user = next((s.id for s in self._sessions.values() if s.profile == profile), None)
        if user is not None:
            raise SessionConflict(f"rig profile {profile!r} is in use by session {user!r}")
        try:
            return self.profiles.load(profile).merged(selection)
        except (ProfileMissing, SelectionError) as exc:
            raise SessionError(str(exc)) from None

    def assign_stream(self, session_id: str, text: str) -> str:
        """Assign a stream of a running session from now on (``"STREAM=role:modality"``); the text as kept.

        The ingest reconsiders the stream at once (no restart); the assignment
        is kept with the session (``assignments``) while it runs.
        """
        session = self._sessions[session_id]
        if session.ingest is None:
            raise SessionError("this session ingests no LSL streams")
        wanted = session.ingest.modalities
        modality = parse_override(text).modality  # AssignmentError (a ValueError) if malformed
        if wanted is not None and modality not in wanted:
            raise SessionError(f"the modality must be one of {', '.join(sorted(wanted))}")
        override = session.ingest.add_override(text)
        kept = f"{override.stream}={override.role}" + (f":{override.modality}" if override.modality else "")
        session.assignments = [a for a in session.assignments if not a.startswith(f"{override.stream}=")] + [kept]
        return kept

    async def start_recording(
        self, session_id: str, *, subject: str, session: str, task: str = "therapy"
    ) -> dict[str, Any]:
        """Start recording a session (see :meth:`SessionRecording.start` for errors); logs ``recording_started``.

        The recording gets the session's LSL streams from now on (with their
        headers and current clock offsets) and every event it logs.
        """
        live = self._sessions[session_id]
        try:
            state = await asyncio.to_thread(live.recording.start, subject=subject, session=session, task=task)
        except RecordingError:  # it could not even create the file: the log says why, as for a later failure
            await live.status(kinds.RECORDING_STOPPED, _session_clock(), **live.recording.describe())
            raise
        await live.status(kinds.RECORDING_STARTED, _session_clock(), **state)
        return state

    async def stop_recording(self, session_id: str) -> dict[str, Any]:
        """Stop a session's recording and close its file; logs ``recording_stopped`` if one was running."""
        return await self._stop_recording(self._sessions[session_id])

    async def _stop_recording(self, session: Session) -> dict[str, Any]:
        was_recording = session.recording.active
        state = await asyncio.to_thread(session.recording.stop)
        if was_recording:
            await session.status(kinds.RECORDING_STOPPED, _session_clock(), **state)
        return state

    async def stop(self, session_id: str) -> None:
        """Stop a session: its sensors, its processing, its recording (footers written), its log.

        Each step runs even if an earlier one failed (logged), so a full disk
        under the history never leaves a recording unclosed.
        """
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        summary = self._summaries.pop(session_id)
        self._stopping.append(session)
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            *((f"stop hook {hook.__qualname__}", lambda h=hook: h(session_id)) for hook in self.stop_hooks),
            ("processing", session.stop),
            ("recording", lambda: self._stop_recording(session)),
            ("history", lambda: asyncio.to_thread(self._record, session, summary)),
            ("event log", lambda: self._delete_log(session)),
        ]
        for what, step in steps:
            try:
                await step()
            except Exception:
                log.exception("session %s: stopping its %s failed", session_id, what)
        self.claims.release_all(session_id)
        self._stopping.remove(session)
        self._events_of_stopped += session.events_logged

    async def _delete_log(self, session: Session) -> None:
        try:
            await self.bus.delete(session.log.topic)
        except BusUnavailable:  # the bus said so once; its copy stays until the id is reused or Redis is flushed
            log.warning("session %s: its events stay on the bus, which is unavailable", session.id)

    async def stop_all(self) -> None:
        for session_id in list(self._sessions):
            await self.stop(session_id)

    def _norms(self, participants: dict[Role, str]) -> dict:
        if not participants:
            return {}
        with History(self.config.data_dir) as history:
            return {role: history.norms(pid) for role, pid in participants.items()}

    def _record(self, session: Session, summary: SessionSummary) -> None:
        if not session.participants:
            return
        with History(self.config.data_dir) as history:
            for role, participant in session.participants.items():
                history.record(participant, session.history_key, summary.summary(role))
