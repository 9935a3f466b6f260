"""``dyadscope analyze``: a recording through the live pipeline, offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from dyadscope.service.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="run the live pipeline over an XDF recording and write events and tables",
        description=(
            "Read an XDF recording, assign its streams to roles and modalities (from their metadata or "
            "--assign), run the same processors as a live session at full speed, and write events.jsonl, "
            "one CSV per kind of measure (each with its data dictionary, <table>.json) and summary.json "
            "into --out."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE.xdf", help="the recording")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the results")
    parser.add_argument(
        "--assign",
        action="append",
        default=[],
        metavar="'STREAM NAME=role:modality'",
        help="assign a stream explicitly (repeatable), e.g. 'Polar H10=patient:ECG'",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from dyadscope.stream.assign import AssignmentError, parse_overrides
    from dyadscope.xdf.reader import load_recording

    try:
        from dyadscope.offline.analysis import AnalysisError, analyze
    except ImportError as exc:
        raise CliError(
            f"analyze needs the 'export' extra ({exc.name} is missing): pip install 'dyadscope[export]'"
        ) from None

    if not args.file.is_file():
        raise CliError(f"{args.file}: no such file")
    try:
        overrides = parse_overrides(args.assign)
    except AssignmentError as exc:
        raise CliError(str(exc)) from None
    try:
        recording = load_recording(args.file, overrides=overrides)
    except Exception as exc:  # pyxdf raises many kinds on files that are not XDF
        raise CliError(f"{args.file}: cannot read it as XDF ({type(exc).__name__}: {exc})") from None
    ends = [float(s.timestamps[-1] - s.timestamps[0]) for s in recording.streams if len(s)]
    with tqdm(total=round(max(ends, default=0.0)), unit="s", desc="analysing", disable=args.no_progress) as bar:

        def progress(reached: float) -> None:
            bar.update(max(0, round(reached) - bar.n))

        try:
            result = analyze(recording, args.out, progress=progress)
        except AnalysisError as exc:
            raise CliError(f"{args.file}: {exc}") from None
    print(f"Analysed {args.file} into {args.out}/")
    for use in result.streams:
        print(f"  {'used   ' if use.used else 'skipped'}  {use.name} ({use.samples} samples): {use.reason}")
    print(f"  {sum(result.events.values())} events; tables: {', '.join(result.tables)}")
    return 0
