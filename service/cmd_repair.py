"""``dyadscope repair``: close recordings that ended without their footers."""

from __future__ import annotations

import argparse
from pathlib import Path

from dyadscope.service.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "repair",
        help="close unfinished XDF recordings (after a crash or a full disk)",
        description=(
            "Drop a torn last chunk and add the missing stream footers, so the file reads like one "
            "closed normally. Given a folder, repairs every unfinished .xdf below it that no "
            "recorder is still writing; a file a recorder is writing is refused. A file that "
            "cannot be repaired is reported and the others are still repaired."
        ),
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="FILE_OR_DIR", help="XDF files or folders of them")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dyadscope.xdf.repair import find_unfinished, repair_each

    files: list[Path] = []
    for path in args.paths:
        if path.is_dir():
            files += find_unfinished(path)
        elif path.is_file():
            files.append(path)
        else:
            raise CliError(f"{path} does not exist")
    reports, failures = repair_each(files)
    for report in reports:
        if report.changed:
            print(
                f"{report.path}: closed {len(report.footers_added)} streams, dropped {report.bytes_dropped} torn bytes"
            )
        else:
            print(f"{report.path}: already complete")
    if failures:
        listed = "; ".join(f"{f.path} ({f.reason})" for f in failures)
        raise CliError(f"cannot repair {len(failures)} file(s): {listed}")
    return 0
