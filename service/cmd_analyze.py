"""``dyadscope analyze``: a recording or a video through the live pipeline, offline; or a folder of them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dyadscope.service.errors import CliError

#: The people a video can show (``dyadscope.stream.types.ROLES``, without its imports).
PEOPLE = ("patient", "therapist")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="run the live pipeline over an XDF recording, a video, or a folder of them",
        description=(
            "Read an XDF recording (its streams assigned to roles and modalities from their metadata or "
            "--assign) or a video (mp4, mkv, webm, mov; its audio track or --audio), run the same processors "
            "as a live session at full speed, and write events.jsonl, one CSV per kind of measure (<kind>.csv, "
            "as dyadscope export names them, each with its data dictionary, <table>.json; a video adds "
            "face_affect, face_tracked, movement and voice_segment) and summary.json (per-person and per-dyad "
            "session summaries) into --out. Marker streams become marker events; streams on clocks that "
            "disagree are aligned on their clock offsets or left out, with a warning. A folder is analysed "
            "file by file in parallel, each "
            "into --out/<name>/, with one summary table, --out/summary.csv. Exit code 1: analysed, but the "
            "recording was never closed (run dyadscope repair on it)."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE|FOLDER", help="an .xdf recording, a video, or a folder")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the results")
    parser.add_argument(
        "--assign",
        action="append",
        default=[],
        metavar="'STREAM NAME=role:modality'",
        help="XDF: assign a stream explicitly (repeatable), e.g. 'Polar H10=patient:ECG'",
    )
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--person", choices=PEOPLE, help="video: the person it shows, whose voice its audio is (patient)")
    who.add_argument(
        "--sides",
        metavar="LEFT,RIGHT",
        help="video: one camera on both people, who is on which side, e.g. patient,therapist; "
        "its audio is their shared microphone (units go to the person whose mouth moves)",
    )
    parser.add_argument("--audio", type=Path, metavar="FILE", help="video: its sound from this file instead")
    parser.add_argument("--jobs", type=int, metavar="N", help="folder: files analysed at once (default: the cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from dyadscope.offline.analysis import AnalysisError
        from dyadscope.offline.batch import FileOptions
    except ImportError as exc:
        raise CliError(
            f"analyze needs the 'export' extra ({exc.name} is missing): pip install 'dyadscope[export]'"
        ) from None
    from dyadscope.stream.assign import AssignmentError, parse_overrides

    try:
        overrides = parse_overrides(args.assign)
    except AssignmentError as exc:
        raise CliError(str(exc)) from None
    sides = tuple(side.strip() for side in args.sides.split(",")) if args.sides else None
    options = FileOptions(args.person, sides, args.audio, overrides)
    try:
        return (_folder if args.file.is_dir() else _file)(args, options)
    except AnalysisError as exc:
        raise CliError(str(exc)) from None


def _file(args: argparse.Namespace, options) -> int:
    from tqdm import tqdm

    from dyadscope.offline.batch import prepare

    job = prepare(args.file, options)
    with tqdm(total=round(job.duration_s), unit="s", desc="analysing", disable=args.no_progress) as bar:
        result = job.run(args.out, lambda reached: bar.update(max(0, min(bar.total, round(reached)) - bar.n)))
    print(f"Analysed {args.file} into {args.out}/")
    for use in result.streams:
        print(f"  {'used   ' if use.used else 'skipped'}  {use.name} ({use.samples} samples): {use.reason}")
    print(f"  {sum(result.events.values())} events; tables: {', '.join(result.tables)}")
    for note in result.notes:  # said once, and in summary.json; the rest of the file was analysed
        print(f"dyadscope analyze: warning: {note}", file=sys.stderr)
    if job.warning is not None:  # analysed, but the user must hear it: exit code 1
        print(f"dyadscope analyze: warning: {job.warning}", file=sys.stderr)
        return 1
    return 0


def _folder(args: argparse.Namespace, options) -> int:
    from tqdm import tqdm

    from dyadscope.offline.batch import analysable_files, analyze_folder, write_summary

    if args.jobs is not None and args.jobs < 1:
        raise CliError(f"--jobs must be at least 1, got {args.jobs}")
    total = len(analysable_files(args.file))
    with tqdm(total=total, unit="file", desc="analysing", disable=args.no_progress) as bar:
        rows = analyze_folder(args.file, args.out, options, args.jobs, done=lambda _: bar.update())
    table = write_summary(rows, args.out / "summary.csv")
    width = max(len(row.file) for row in rows)
    print(f"Analysed {len(rows)} files of {args.file} into {args.out}/ (summary: {table})")
    print(f"  {'file':<{width}}  kind  {'seconds':>8} {'faces':>6} {'units':>6} {'events':>7}  status")
    for r in rows:
        counts = f"{r.seconds:>8.1f} {r.face_affect:>6} {r.voice_segment:>6} {r.events:>7}"
        print(f"  {r.file:<{width}}  {r.kind:<5} {counts}  {r.status}")
    failed = sum(not row.status.startswith("ok") for row in rows)
    if failed:
        raise CliError(f"{failed} of {len(rows)} files could not be analysed (their reasons are in {table})")
    return 0
