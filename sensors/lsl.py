"""LSL ingest: discover streams, assign them, pull them into chunks on the session clock.

:class:`LslIngest` runs one discovery thread (every ``resolve_interval``
seconds) and one thread per ingested stream; it knows nothing of asyncio and
calls its two callbacks from those threads.

It has two modes. The default feeds the analysis pipeline: only numeric,
regular streams of a wanted modality whose role is known, values as float64.
``raw=True`` is for recording (``dyadscope record``): every stream the
selection admits, as LabRecorder takes it — string and irregular streams,
streams of no known role or modality, values in the stream's own dtype.

``on_chunk(chunk)``
    From the stream's own thread, in order. It may block: that is the
    back-pressure (liblsl buffers upstream, nothing is dropped).
    ``chunk.timestamps`` are on the session clock (this machine's
    ``local_clock``): the sender's timestamps plus the stream's clock offset.
    ``chunk.values`` has all channels; processors read channel 0. Default
    mode: float64. Raw mode: the stream's own dtype (int64 stays int64), and
    an object array of ``str`` for string streams.

``on_status(kind, info, data)``
    ``data["message"]`` always says what happened in words. Kinds:

    ``stream_found`` / ``stream_returned``
        a stream is ingested (``returned``: its key was seen before). When
        an inlet was (re)opened, ``data["xml"]`` is the sender's full header
        (``as_xml()``, with ``desc``), verbatim for a recording; it is absent
        when data merely flows again after a ``stream_lost``.
    ``stream_lost``
        its outlet closed, or no data came for ``lost_after`` seconds
        (``data["reason"]`` is ``"closed"`` or ``"no data"``).
    ``clock_offset``
        ``data["offset"]`` (seconds) is now added to the sender's timestamps,
        measured at ``data["measured_at"]``. Sent when first measured and when
        a re-measurement (every ``offset_interval`` s) moves it by more than
        0.5 ms; it comes from the stream's thread before any chunk it applies
        to, so ``raw = chunk.timestamps - offset`` is exact.
    ``stream_unassigned``
        a stream of a wanted modality whose role cannot be decided (default
        mode only).
    ``stream_invalid``
        wrong channel format or count for its modality, or a declared rate
        that is irregular or outside the modality's plausible range, or an
        accelerometer unit that is not g, mg or m/s²
        (not ingested; ``data["problem"]``: ``"format"``, ``"channels"``,
        ``"rate"``, ``"units"``; default mode only). Also ``"duplicate"``: the same
        person's same modality is already ingested from another source (a
        backup strap, another room's sensor); ``data["in_use"]`` names that
        stream. Reported once; the duplicate is taken on a later discovery
        pass if the stream in use is lost for good (its outlet closed).
        And ``"claimed"``: another owner of the same ``claims`` took it (once).
    ``stream_quality`` / ``stream_quality_ok``
        NaNs in floating-point data (``data["problem"] == "nan"``), or the
        effective sample rate of a regular stream more than
        ``rate_tolerance`` off nominal over ``rate_window`` seconds of
        timestamps (``"rate"``), and when that has cleared. The chunks are
        still delivered unchanged.

Channel rule (default mode): ECG, RSP and EDA streams must be numeric with at
least one channel (at most 16, 4 and 4 — more means a mis-typed stream);
channel 0 is the signal. Movement streams (motion energy) have exactly one
channel, ACC streams (accelerometers) exactly three; both become the
``movement`` feature (:mod:`dyadscope.stream.processors.physio.movement`).

Rate rule (default mode): the declared (nominal) rate must lie in the
modality's range in :data:`RATE_LIMITS`. A rate outside it is a mis-set
header, not a sensor: too low and the processors cannot build their filters
or time beats and breaths; too high and every buffer sized from the rate
(pull buffers, ring buffers) grows with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from dyadscope.sensors._lsl_checks import CHANNEL_LIMITS, RATE_LIMITS, check_stream
from dyadscope.sensors._lsl_network import HEADER_TIMEOUT, list_streams, short_header, visible_streams
from dyadscope.sensors._lsl_worker import RateMonitor, StreamWorker, full_header
from dyadscope.sensors.lsl_config import configure_lsl
from dyadscope.stream import kinds
from dyadscope.stream.assign import (
    Override,
    assign,
    describe,
    header_from_xml,
    normalize_modality,
    parse_override,
    parse_overrides,
)
from dyadscope.stream.selection import StreamClaims, StreamSelection
from dyadscope.stream.types import Chunk, StreamInfo

configure_lsl()
import pylsl  # noqa: E402  (liblsl must see LSLAPICFG first)
from pylsl import local_clock  # noqa: E402

__all__ = [
    "CHANNEL_LIMITS",
    "LslIngest",
    "RATE_LIMITS",
    "RateMonitor",
    "check_stream",
    "configure_lsl",
    "list_streams",
    "local_clock",
    "short_header",
    "visible_streams",
]

log = logging.getLogger(__name__)

ChunkCallback = Callable[[Chunk], None]
StatusCallback = Callable[[str, StreamInfo, dict[str, Any]], None]


class LslIngest:
    """Finds LSL streams, assigns them to a role and modality, and pulls the wanted ones.

    ``overrides`` are assignment strings (``"STREAM=role:modality"``, see
    :mod:`dyadscope.stream.assign`); ``modalities`` the ones to ingest (None:
    every modality, including streams with no type); ``select`` an optional
    further filter on the assigned :class:`StreamInfo`; ``channel_limits`` and
    ``rate_limits`` what a stream of each modality may declare (see
    :func:`check_stream`). Each stream is pulled
    at most every ``pull_interval`` seconds. With ``raw`` every
    selected stream is pulled as it is, for recording: no role needed (it is
    still filled in when known), no channel or rate checks, string and
    irregular streams too, values in the stream's own dtype. Without ``raw``
    one stream per person and modality is ingested: another source of the
    same is held back (``stream_invalid``, ``"duplicate"``) until the first
    is gone. See the module docstring for the callbacks.

    ``selection`` (:class:`~dyadscope.stream.selection.StreamSelection`)
    decides on the resolver's short header, before any inlet is opened, which
    streams are this ingest's; ``claims`` with ``owner`` keeps two ingests
    from taking the same stream: one claimed by another owner is left alone
    (reported once, ``stream_invalid`` with problem ``"claimed"``).
    :meth:`add_override` assigns a stream at run time.
    """

    def __init__(
        self,
        on_chunk: ChunkCallback,
        on_status: StatusCallback,
        *,
        overrides: Sequence[str] = (),
        modalities: Collection[str] | None = ("ECG", "RSP", "EDA", "Movement", "ACC"),
        resolve_interval: float = 1.0,
        lost_after: float = 3.0,
        select: Callable[[StreamInfo], bool] | None = None,
        channel_limits: Mapping[str, tuple[int, int]] = CHANNEL_LIMITS,
        rate_limits: Mapping[str, tuple[float, float]] = RATE_LIMITS,
        rate_window: float = 10.0,
        rate_tolerance: float = 0.10,
        offset_interval: float = 5.0,
        pull_interval: float = 0.1,
        raw: bool = False,
        selection: StreamSelection | None = None,
        claims: StreamClaims | None = None,
        owner: str = "",
    ):
        self._on_chunk = on_chunk
        self._on_status = on_status
        self._overrides: tuple[Override, ...] = parse_overrides(overrides)
        self.modalities = None if modalities is None else frozenset(normalize_modality(m) for m in modalities)
        self.raw = raw
        self.resolve_interval = resolve_interval
        self.lost_after = lost_after
        self._select = select
        self._selection = selection or StreamSelection()
        self._claims = claims
        self._owner = owner
        self._channel_limits = channel_limits
        self._rate_limits = rate_limits
        self.rate_window = rate_window
        self.rate_tolerance = rate_tolerance
        self.offset_interval = offset_interval
        self.pull_interval = pull_interval
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._workers: dict[str, StreamWorker] = {}
        self._seen: set[str] = set()
        self._skipped: dict[str, tuple[str, str]] = {}  # uids decided against, until they vanish: (name, source_id)
        # uids of duplicates (default mode), with the (role, modality) they wait for, until they vanish
        self._waiting: dict[str, tuple[str | None, str]] = {}
        self._resolver_thread: threading.Thread | None = None

    def start(self) -> None:
        """Start discovering and ingesting."""
        if self._resolver_thread is not None:
            raise RuntimeError("ingest already started")
        self._resolver_thread = threading.Thread(target=self._discover, name="lsl-discovery", daemon=True)
        self._resolver_thread.start()

    def stop(self) -> None:
        """Stop every thread and close every inlet; returns once they have ended."""
        self._stopping.set()
        if self._resolver_thread is not None:
            self._resolver_thread.join()
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.thread.join()

    def streams(self) -> list[StreamInfo]:
        """The streams being ingested that currently deliver data."""
        with self._lock:
            return [w.info for w in self._workers.values() if not w.lost]

    def _report(self, kind: str, info: StreamInfo, **data: Any) -> None:
        # Clock offsets are routine (every few seconds per stream); the rest is
        # what a research assistant watching the console needs to see.
        level = logging.DEBUG if kind == kinds.CLOCK_OFFSET else logging.INFO
        log.log(level, "%s: %s", kind, data.get("message", info.name))
        try:
            self._on_status(kind, info, data)
        except Exception:  # the consumer's problem; ingest goes on
            log.exception("on_status failed for %s %s", kind, info.name)

    def _worker_ended(self, worker: StreamWorker) -> None:
        with self._lock:
            if self._workers.get(worker.info.key) is worker:
                del self._workers[worker.info.key]
            if worker.closed:  # the resolver may list the dead outlet a while longer
                self._skipped[worker.uid] = (worker.info.name, worker.info.source_id)

    def _discover(self) -> None:
        resolver = pylsl.ContinuousResolver(forget_after=max(2.0, self.resolve_interval * 2))
        while True:
            try:
                self._consider(resolver.results())
            except Exception:  # discovery must go on whatever one stream does
                log.exception("LSL discovery pass failed")
            if self._stopping.wait(self.resolve_interval):
                return

    def _consider(self, results: list[pylsl.StreamInfo]) -> None:
        """One discovery pass: open inlets on the new streams worth ingesting."""
        present = {lsl_info.uid() for lsl_info in results}
        with self._lock:
            self._skipped = {uid: names for uid, names in self._skipped.items() if uid in present}
            self._waiting = {uid: slot for uid, slot in self._waiting.items() if uid in present}
        for lsl_info in sorted(results, key=lambda i: -i.created_at()):  # newest outlet first
            if self._stopping.is_set():
                return
            key = lsl_info.source_id() or lsl_info.name()
            uid = lsl_info.uid()
            with self._lock:
                if key in self._workers or uid in self._skipped:
                    continue
                slot = self._waiting.get(uid)
                if slot is not None and self._ingesting(*slot, other_than=key) is not None:
                    continue  # a duplicate whose stream in use is still there
                if not self._may_want(lsl_info) or not self._selection.takes(short_header(lsl_info)):
                    self._skipped[uid] = (lsl_info.name(), lsl_info.source_id())
                    continue
            if self._claim(lsl_info, key, uid):
                self._open(lsl_info, key, uid)

    def _claim(self, lsl_info: pylsl.StreamInfo, key: str, uid: str) -> bool:
        """Take the stream for this ingest unless another owner has; say so once if it has."""
        holder = self._owner if self._claims is None else self._claims.claim(key, self._owner)
        if holder == self._owner:
            return True
        with self._lock:
            self._skipped[uid] = (lsl_info.name(), lsl_info.source_id())
        info = describe(header_from_xml(lsl_info.as_xml()))
        self._report(kinds.STREAM_INVALID, info, message=f"{info.name}: taken by another session", problem="claimed")
        return False

    def add_override(self, text: str) -> Override:
        """Assign a stream from now on (``"STREAM=role:modality"``); a stream skipped for it is reconsidered.

        Raises :class:`~dyadscope.stream.assign.AssignmentError` for a malformed text.
        """
        override = parse_override(text)
        with self._lock:
            self._overrides = (*(o for o in self._overrides if o.stream != override.stream), override)
            self._skipped = {u: n for u, n in self._skipped.items() if override.stream not in n}
        return override

    def _may_want(self, lsl_info: pylsl.StreamInfo) -> bool:
        """Whether the stream's type or an override could make it a wanted modality."""
        if self.modalities is None:
            return True
        modality = normalize_modality(lsl_info.type())
        for override in self._overrides:
            if override.stream in (lsl_info.name(), lsl_info.source_id()):
                modality = override.modality or modality
        return modality in self.modalities

    def _ingesting(self, role: str | None, modality: str, other_than: str) -> StreamInfo | None:
        """The stream of another source (key) being ingested as ``role``'s ``modality``, if any; hold the lock."""
        for worker in self._workers.values():
            if (worker.info.role, worker.info.modality) == (role, modality) and worker.info.key != other_than:
                return worker.info
        return None

    def _hold_back(self, uid: str, info: StreamInfo, in_use: StreamInfo, inlet: pylsl.StreamInlet) -> None:
        """Leave a duplicate until the stream in use is gone for good; say so the first time."""
        inlet.close_stream()
        with self._lock:
            reported = uid in self._waiting
            self._waiting[uid] = (info.role, info.modality)
        if not reported:
            self._report(
                kinds.STREAM_INVALID,
                info,
                message=(
                    f"{info.name}: the {info.role}'s {info.modality} already comes from {in_use.name} "
                    f"({in_use.key}); this stream is held back until that one is gone"
                ),
                problem="duplicate",
                in_use=in_use.name,
            )

    def _skip(self, uid: str, inlet: pylsl.StreamInlet, info: StreamInfo, release: bool = False) -> None:
        """Decide against a stream (until its outlet goes away); ``release``: give up its claim too."""
        inlet.close_stream()
        with self._lock:
            self._skipped[uid] = (info.name, info.source_id)
        if release and self._claims is not None:
            self._claims.release(info.key, self._owner)

    def _open(self, lsl_info: pylsl.StreamInfo, key: str, uid: str) -> None:
        """Fetch the stream's full header, assign it, and start pulling it if it is wanted and sound."""
        try:
            inlet, xml = full_header(lsl_info, HEADER_TIMEOUT)
        except (pylsl.util.TimeoutError, pylsl.util.LostError):
            return  # gone already, or not answering yet: try again next pass
        header = header_from_xml(xml)
        info = assign(header, self._overrides)
        if info is None and self.raw:
            info = describe(header)
        elif info is None:
            described = describe(header)
            self._skip(uid, inlet, described)
            self._report(
                kinds.STREAM_UNASSIGNED,
                described,
                message=f"{described.name}: cannot tell whose stream this is "
                "(no <role> in its desc, no patient/therapist in its name, no assignment)",
            )
            return
        wanted = self.modalities is None or info.modality in self.modalities
        if not wanted or (self._select is not None and not self._select(info)):
            self._skip(uid, inlet, info, release=True)
            return
        problem = None if self.raw else check_stream(info, self._channel_limits, self._rate_limits)
        if problem is not None:
            self._skip(uid, inlet, info, release=True)
            self._report(kinds.STREAM_INVALID, info, message=f"{info.name}: {problem[1]}", problem=problem[0])
            return
        worker = StreamWorker(self, inlet, info, uid)
        with self._lock:
            in_use = None if self.raw else self._ingesting(info.role, info.modality, other_than=key)
            if in_use is None:
                self._workers[key] = worker
                self._waiting.pop(uid, None)
                returned = key in self._seen
                self._seen.add(key)
        if in_use is not None:
            self._hold_back(uid, info, in_use, inlet)
            return
        if returned:
            self._report(kinds.STREAM_RETURNED, info, message=f"{info.name}: the stream is back", xml=xml)
        else:
            self._report(kinds.STREAM_FOUND, info, message=f"{info.name}: {info.role} {info.modality}", xml=xml)
        worker.thread.start()
