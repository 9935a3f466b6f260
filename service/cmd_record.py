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
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dyadscope.xdf.recorder import DEFAULT_TEMPLATE, Recorder, RecordingError
from dyadscope.stream.types import StreamInfo
from dyadscope.service.errors import CliError
from dyadscope.service.recording import LslRecording

log = logging.getLogger(__name__)


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
    from dyadscope.sensors.lsl import LslIngest  # loads liblsl only when needed

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
    ingest.start()
    recorder = None
    try:
        if args.require:
            log.info("waiting up to %g s for %s", args.require_timeout, ", ".join(args.require))
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
    if recorder is None:  # Ctrl-C while waiting for --require streams
        print("stopped before recording started; no file written")
        return 130
    print(f"recorded {len(recorder.stream_ids)} streams into {recorder.path}")
    return 0
