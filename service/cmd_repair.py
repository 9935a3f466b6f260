"""``dyadscope repair``: close recordings that ended without their footers."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..stream.xdf_repair import XdfFormatError, find_unfinished, repair
from .errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "repair",
        help="close unfinished XDF recordings (after a crash or a full disk)",
        description=(
            "Drop a torn last chunk and add the missing stream footers, so the file reads like one "
            "closed normally. Given a folder, repairs every unfinished .xdf below it that no "
            "recorder is still writing."
        ),
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="FILE_OR_DIR", help="XDF files or folders of them")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    files: list[Path] = []
    for path in args.paths:
        if path.is_dir():
            files += find_unfinished(path)
        elif path.is_file():
            files.append(path)
        else:
            raise CliError(f"{path} does not exist")
    for path in files:
        try:
            report = repair(path)
        except XdfFormatError as exc:
            raise CliError(f"{path}: {exc}") from None
        except OSError as exc:
            raise CliError(f"{path}: cannot repair ({exc.strerror})") from None
        if report.changed:
            print(f"{path}: closed {len(report.footers_added)} streams, dropped {report.bytes_dropped} torn bytes")
        else:
            print(f"{path}: already complete")
    return 0
