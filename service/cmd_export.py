"""``dyadscope export``: a recording as BIDS, CSV, Parquet or a report figure."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dyadscope.service.errors import CliError

log = logging.getLogger(__name__)

TARGETS = ("bids", "csv", "parquet", "report")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export an XDF recording to BIDS, CSV, Parquet or a report figure",
        description=(
            "bids: one sub- per person (participants.tsv: dyad, role), *_physio.tsv.gz per rate group, EEG "
            "as BrainVision, *_events.tsv (markers, baseline, flags), the measures in derivatives/dyadscope; "
            "csv/parquet: one table per kind of measure (named as dyadscope analyze names them) and per stream, "
            "with data dictionaries and summary.json; "
            "report: a PNG and PDF figure of the session. Streams on clocks that disagree are aligned on their "
            "clock offsets or left out, with a warning. Needs the 'export' extra "
            "(pip install 'dyadscope[export]')."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE.xdf", help="the recording (ours or any XDF file)")
    parser.add_argument("--to", choices=TARGETS, action="append", required=True, help="format (repeatable)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write into (created)")
    parser.add_argument(
        "--author",
        action="append",
        metavar="NAME",
        help="an author for the BIDS dataset_description.json (repeatable); default: DYADSCOPE_BIDS_AUTHORS "
        "(names separated by ';'), else an earlier export's, else 'DyadScope export'",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise CliError(f"{args.file} does not exist")
    if not args.verbose:
        logging.getLogger("pyxdf").setLevel(logging.WARNING)  # it narrates every load at INFO
    try:
        from tqdm import tqdm

        from dyadscope.offline.export.bids import export_bids
        from dyadscope.offline.export.report import export_report
        from dyadscope.offline.export.tables import export_tables
    except ImportError as exc:
        raise CliError(
            f"export needs the 'export' extra ({exc.name} is missing): pip install 'dyadscope[export]'"
        ) from None
    from dyadscope.xdf.clocks import on_one_clock
    from dyadscope.xdf.reader import load_recording

    def progress(items, desc=""):
        return tqdm(items, desc=desc, disable=args.no_progress, leave=False)

    log.info("loading %s", args.file)
    try:
        recording = load_recording(args.file)
    except Exception as exc:  # pyxdf raises plain Exceptions for unreadable files
        raise CliError(f"cannot read {args.file}: {exc}") from None
    recording = on_one_clock(recording)  # every exporter gets the streams on one clock
    for note in recording.notes:
        print(f"dyadscope export: warning: {note}", file=sys.stderr)
    exporters = {
        "bids": lambda out: export_bids(recording, out, progress, authors=_authors(args.author)),
        "csv": lambda out: export_tables(recording, out, "csv", progress),
        "parquet": lambda out: export_tables(recording, out, "parquet", progress),
        "report": lambda out: export_report(recording, out, progress),
    }
    written: list[Path] = []
    try:
        for target in dict.fromkeys(args.to):
            written += exporters[target](args.out)
    except OSError as exc:
        raise CliError(f"cannot write into {args.out}: {exc.strerror or exc}") from None
    _audit_export(recording.metadata.get("dyadscope_session"), args.file, list(dict.fromkeys(args.to)))
    print(f"wrote {len(written)} files into {args.out}")
    return 0


def _authors(given: list[str] | None) -> tuple[str, ...] | None:
    """The BIDS authors: ``--author``, else the configuration's, else None (an earlier export's, or the default)."""
    if given:
        return tuple(given)
    from dyadscope.service.config import Config

    return Config.from_env().bids_authors or None


def _audit_export(session: str | None, path: Path, targets: list[str]) -> None:
    """Record the export in the audit trail, as this OS user; the file by the hash of its name (which holds ids)."""
    import getpass
    import hashlib

    from dyadscope.service.audit import FILENAME, AuditLog
    from dyadscope.service.config import Config

    name_sha256 = hashlib.sha256(path.name.encode()).hexdigest()[:16]
    AuditLog(Config.from_env().data_dir / FILENAME).append(
        getpass.getuser(), "recording.export", session, file=name_sha256, kinds=",".join(targets)
    )
