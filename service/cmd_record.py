"""``dyadscope record``: record LSL streams into one XDF file, like LabRecorder's command line.

Streams come in through :class:`dyadscope.sensors.lsl.LslIngest` in its raw
mode (discovery, inlets, clock offsets), so every kind of stream LabRecorder
records is recorded: every channel format including ``string``, values in
their own dtype (int64 beyond 2**53 intact), regular and irregular rates,
streams whose role or modality is unknown. :class:`~.recording.LslRecording`
hands them to a :class:`~dyadscope.xdf.recorder.Recorder` with the sender's
own timestamps and clock offsets and the sender's full header XML, so pyxdf
returns exactly what was sent. Streams that appear later join the file;
``--require`` waits for streams before recording starts. Without
``--name``/``--type``/``--source-id`` every visible stream is recorded.

While it records it prints a progress line every :data:`PROGRESS_S` seconds
to stderr (elapsed time, streams, samples, file size; ``-q`` keeps it
quiet), as LabRecorder shows them.

SIGINT (Ctrl-C) and SIGTERM (systemd, docker) both stop it with the file
closed, also when it runs as a shell's background job (which starts with
SIGINT ignored): see :mod:`._stop_signals`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dyadscope.service._cli_args import positive_number
from dyadscope.service._stop_signals import StopRequested, StopSignals, wait_until
from dyadscope.service.errors import CliError

if TYPE_CHECKING:  # numpy, liblsl and the XDF writer load only when a recording runs
    from dyadscope.service.recording import LslRecording
    from dyadscope.stream.types import StreamInfo
    from dyadscope.xdf.recorder import Recorder

log = logging.getLogger(__name__)

#: Seconds between progress lines.
PROGRESS_S = 5.0


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
            "Record LSL streams (all visible ones, or those --name, --type and --source-id select; any "
            "channel format, regular or irregular) into one crash-safe XDF file named from a BIDS-style "
            "template, with the senders' full headers and clock offsets. Roles come from stream metadata or "
            "--assign. Streams that appear later join the file. Stops after --duration or on Ctrl-C, "
            "closing the file."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="recordings folder (created)")
    parser.add_argument("--subject", required=True, help="pseudonymous participant id (letters and digits)")
    parser.add_argument("--session", default="1", help="session label (letters and digits, default 1)")
    parser.add_argument("--task", default="therapy", help="task label (default therapy)")
    parser.add_argument(
        "--template", default=None,
        help="file name below DIR, with {subject}, {session}, {task} and {run} (default: the BIDS-style "
        "sub-{subject}/ses-{session}/sub-{subject}_ses-{session}_task-{task}_run-{run:02d}_physio.xdf)",
    )  # fmt: skip
    parser.add_argument("--name", action="append", default=[], help="record streams of this name (repeatable)")
    parser.add_argument("--type", action="append", default=[], help="record streams of this LSL type (repeatable)")
    parser.add_argument(
        "--source-id", action="append", default=[], help="record streams of this source_id (repeatable)"
    )
    parser.add_argument(
        "--require", action="append", default=[], metavar="NAME_OR_SOURCE_ID",
        help="a stream that must be present before recording starts (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--require-timeout", type=positive_number, default=30.0, metavar="SECONDS", help="how long to wait (default 30)"
    )
    parser.add_argument(
        "--duration", type=positive_number, default=None, metavar="SECONDS", help="stop after this long"
    )
    parser.add_argument(
        "--assign", action="append", default=[], metavar="'STREAM NAME=role:modality'",
        help="assign a stream's role (and modality) explicitly (repeatable)",
    )  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line while recording")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dyadscope.sensors.lsl import LslIngest  # loads liblsl only when needed
    from dyadscope.service.recording import LslRecording

    query = StreamQuery(args.name, args.type, args.source_id)
    if args.name or args.type or args.source_id:  # a required stream is recorded whatever the selection
        query = StreamQuery(args.name + args.require, args.type, args.source_id + args.require)
    recording = LslRecording()
    try:
        ingest = LslIngest(
            recording.on_chunk, recording.on_status, overrides=args.assign, modalities=None, select=query, raw=True
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    with StopSignals() as signals:
        ingest.start()
        recorder = None
        try:
            recorder = _start(args, recording, signals)
            if recorder is not None:
                _record_until_stopped(args, recording, recorder, signals)
        finally:
            ingest.stop()
            if recorder is not None:
                _close(recorder, recording)
    if recording.error is not None:
        raise CliError(str(recording.error))
    if recorder is None:  # Ctrl-C or SIGTERM while waiting for --require streams
        print("stopped before recording started; no file written")
        return 128 + signals.requested
    print(f"recorded {len(recorder.stream_ids)} streams into {recorder.path}")
    return 0


def _start(args: argparse.Namespace, recording: LslRecording, signals: StopSignals) -> Recorder | None:
    """Wait for the ``--require`` streams, then open the file and record into it; None if stopped first."""
    from dyadscope.xdf.recorder import DEFAULT_TEMPLATE, Recorder, RecordingError

    if args.require:
        log.info("waiting up to %g s for %s", args.require_timeout, ", ".join(args.require))
    try:
        with signals.waiting():
            missing = recording.wait_for(args.require, args.require_timeout)
    except StopRequested:
        return None
    if missing:
        raise CliError(f"required streams not found within {args.require_timeout:g} s: {', '.join(missing)}")
    labels = {"subject": args.subject, "session": args.session, "task": args.task}
    try:
        recorder = Recorder.for_session(args.out, **labels, template=args.template or DEFAULT_TEMPLATE)
    except (ValueError, RecordingError) as exc:
        raise CliError(str(exc)) from None
    recording.start(recorder)
    log.info("recording into %s", recorder.path)
    return recorder


def _record_until_stopped(
    args: argparse.Namespace, recording: LslRecording, recorder: Recorder, signals: StopSignals
) -> None:
    """Until ``--duration`` has passed, a recording error, or SIGINT/SIGTERM; a progress line every few seconds."""
    started = time.monotonic()
    next_line = started + PROGRESS_S

    def stopped(slice_s: float) -> bool:
        nonlocal next_line
        done = recording.stopped.wait(slice_s)
        if not args.quiet and not done and time.monotonic() >= next_line:
            next_line += PROGRESS_S
            print(progress_line(time.monotonic() - started, *recorder.progress()), file=sys.stderr, flush=True)
        return done

    try:
        with signals.waiting():
            wait_until(stopped, args.duration)
    except StopRequested as stop:
        log.info("stopping (%s)", stop)


def progress_line(elapsed_s: float, streams: int, samples: int, size_bytes: int) -> str:
    """``recording 0:01:05 · 6 streams · 32,500 samples · 1.2 MB``."""
    minutes, seconds = divmod(int(elapsed_s), 60)
    return (
        f"recording {minutes // 60}:{minutes % 60:02d}:{seconds:02d} · {streams} streams · "
        f"{samples:,} samples · {size_bytes / 1e6:.1f} MB"
    )


def _close(recorder: Recorder, recording: LslRecording) -> None:
    """Close the file (footers written); a failure to is the recording's error."""
    from dyadscope.xdf.recorder import RecordingError

    try:
        recorder.close()
    except RecordingError as exc:
        recording.error = recording.error or exc
