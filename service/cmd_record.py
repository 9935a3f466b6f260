"""``dyadscope record``: record LSL streams into one XDF file, like LabRecorder's command line.

Streams come in through :class:`dyadscope.sensors.lsl.LslIngest` (discovery,
role assignment, inlets, clock offsets); :class:`LslRecording` hands them to a
:class:`~dyadscope.stream.recorder.Recorder` as the sender stamped them (the
ingest's session-clock timestamps minus the offset it added) with every clock
offset beside them, so pyxdf returns the sender's timestamps exactly and
aligns streams with ``synchronize_clocks=True``. Streams that appear later
join the file; ``--require`` waits for streams before recording starts.

What the ingest accepts is what can be recorded: numeric, regular streams of a
wanted modality whose role is known (``--assign`` decides the role of others).
The stream header is built from the ingest's :class:`StreamInfo` (name, type,
format, rate, channels, role), or kept whole when the ingest's
``stream_found`` status carries the sender's XML as ``data["xml"]``.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from pathlib import Path
from typing import Any

from ..stream.recorder import DEFAULT_TEMPLATE, Recorder, RecordingError
from ..stream.types import Chunk, StreamInfo
from .errors import CliError

log = logging.getLogger(__name__)


class LslRecording:
    """Glue between the ingest's callbacks and a recorder, which may start later than the ingest.

    Until :meth:`start`, chunks are not kept but streams and clock offsets are
    remembered, so the file starts complete. A recording error stops it and is
    kept in :attr:`error`; :attr:`stopped` is set.
    """

    def __init__(self) -> None:
        self.found: dict[str, StreamInfo] = {}
        self.error: RecordingError | None = None
        self.stopped = threading.Event()
        self.changed = threading.Condition()
        self._offsets: dict[str, tuple[float, float]] = {}  # key -> (measured_at, offset)
        self._xml: dict[str, str | None] = {}  # key -> the sender's full header, when the ingest gives it
        self._recorder: Recorder | None = None

    def start(self, recorder: Recorder) -> None:
        """Record from now on into ``recorder``, beginning with every stream found so far."""
        with self.changed:
            self._recorder = recorder
            for info in self.found.values():
                self._declare(info)

    def _declare(self, info: StreamInfo) -> None:
        self._recorder.add_stream(info, self._xml.get(info.key))
        if info.key in self._offsets:
            measured_at, offset = self._offsets[info.key]
            self._recorder.clock_offset(info.key, measured_at - offset, offset)

    def on_status(self, kind: str, info: StreamInfo, data: dict[str, Any]) -> None:
        """The ingest's status callback: new streams join, clock offsets are recorded."""
        try:
            with self.changed:
                if kind in ("stream_found", "stream_returned"):
                    self.found[info.key] = info
                    self._xml[info.key] = data.get("xml")
                    if self._recorder is not None:
                        self._recorder.add_stream(info, self._xml[info.key])
                elif kind == "clock_offset":
                    self._offsets[info.key] = (data["measured_at"], data["offset"])
                    if self._recorder is not None and info.key in self.found:
                        # on the sender's clock, as XDF wants: when the offset held there
                        self._recorder.clock_offset(info.key, data["measured_at"] - data["offset"], data["offset"])
                self.changed.notify_all()
        except RecordingError as exc:
            self._fail(exc)

    def on_chunk(self, chunk: Chunk) -> None:
        """The ingest's chunk callback: record with the sender's own timestamps."""
        recorder = self._recorder
        if recorder is None or self.error is not None:
            return
        offset = self._offsets.get(chunk.info.key, (0.0, 0.0))[1]
        try:
            recorder.write(chunk, raw_timestamps=chunk.timestamps - offset)
        except RecordingError as exc:
            self._fail(exc)

    def _fail(self, error: RecordingError) -> None:
        if self.error is None:
            self.error = error
        self.stopped.set()

    def wait_for(self, required: list[str], timeout: float) -> list[str]:
        """Wait until a stream named (or with source_id) each of ``required`` is found; the missing ones."""
        deadline = time.monotonic() + timeout

        def missing() -> list[str]:
            present = {name for info in self.found.values() for name in (info.name, info.source_id)}
            return [r for r in required if r not in present]

        with self.changed:
            while missing() and not self.stopped.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(left)
            return missing()


class StreamQuery:
    """Which streams to record: any stream matching one given name, type or source_id (all if none given)."""

    def __init__(self, names=(), types=(), source_ids=()):
        self.names, self.types, self.source_ids = set(names), {t.upper() for t in types}, set(source_ids)

    def __call__(self, info: StreamInfo) -> bool:
        if not (self.names or self.types or self.source_ids):
            return True
        return info.name in self.names or info.modality.upper() in self.types or info.source_id in self.source_ids


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record LSL streams into an XDF file (like LabRecorder's command line)",
        description=(
            "Record the LSL streams the ingest can take (ECG, RSP, EDA and --type ones, roles from their "
            "metadata or --assign) into one crash-safe XDF file named from a BIDS-style template. Streams "
            "that appear later join the file. Stops after --duration or on Ctrl-C, closing the file."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="recordings folder (created)")
    parser.add_argument("--subject", required=True, help="pseudonymous participant id (letters and digits)")
    parser.add_argument("--session", default="1", help="session label (letters and digits, default 1)")
    parser.add_argument("--task", default="therapy", help="task label (default therapy)")
    parser.add_argument("--template", default=DEFAULT_TEMPLATE, help=f"file name below DIR (default {DEFAULT_TEMPLATE})")
    parser.add_argument("--name", action="append", default=[], help="record streams of this name (repeatable)")
    parser.add_argument("--type", action="append", default=[], help="record streams of this LSL type (repeatable)")
    parser.add_argument("--source-id", action="append", default=[], help="record streams of this source_id (repeatable)")
    parser.add_argument(
        "--require", action="append", default=[], metavar="NAME_OR_SOURCE_ID",
        help="a stream that must be present before recording starts (repeatable)",
    )  # fmt: skip
    parser.add_argument("--require-timeout", type=float, default=30.0, metavar="SECONDS", help="how long to wait (default 30)")
    parser.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this long")
    parser.add_argument(
        "--assign", action="append", default=[], metavar="'STREAM NAME=role:modality'",
        help="assign a stream's role (and modality) explicitly (repeatable)",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sensors.lsl import LslIngest  # loads liblsl only when needed

    query = StreamQuery(args.name, args.type, args.source_id)
    if args.name or args.type or args.source_id:  # a required stream is recorded whatever the selection
        query = StreamQuery(args.name + args.require, args.type, args.source_id + args.require)
    recording = LslRecording()
    modalities = {"ECG", "RSP", "EDA", *args.type}
    try:
        ingest = LslIngest(recording.on_chunk, recording.on_status, overrides=args.assign, modalities=modalities, select=query)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    ingest.start()
    recorder = None
    try:
        missing = recording.wait_for(args.require, args.require_timeout)
        if missing:
            raise CliError(f"required streams not found within {args.require_timeout:g} s: {', '.join(missing)}")
        try:
            recorder = Recorder.for_session(args.out, subject=args.subject, session=args.session, task=args.task, template=args.template)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        except RecordingError as exc:
            raise CliError(str(exc)) from None
        recording.start(recorder)
        log.info("recording into %s", recorder.path)
        recording.stopped.wait(args.duration)
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        ingest.stop()
        if recorder is not None:
            try:
                recorder.close()
            except RecordingError as exc:
                recording.error = recording.error or exc
    if recording.error is not None:
        raise CliError(str(recording.error))
    print(f"recorded {len(recorder.stream_ids)} streams into {recorder.path}")
    return 0
