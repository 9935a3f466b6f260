"""``dyadscope streams``: list the LSL streams on the network."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from dyadscope.service._cli_args import positive_number
from dyadscope.service.errors import CliError

if TYPE_CHECKING:
    from dyadscope.stream.types import StreamInfo

_COLUMNS = ("name", "type", "role", "channels", "rate", "format", "host", "source_id")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "streams",
        help="list the LSL streams on the network",
        description="List the LSL streams visible from this machine, with the role their metadata gives.",
    )
    parser.add_argument(
        "--wait",
        type=positive_number,
        default=1.0,
        metavar="SECONDS",
        help="how long to listen (default 1)",
    )
    parser.set_defaults(func=run)


def stream_table(streams: list[StreamInfo]) -> str:
    """The streams as aligned text columns under a header."""
    rows = [_COLUMNS] + [
        (
            s.name,
            s.modality,
            s.role or "-",
            str(s.channel_count),
            f"{s.nominal_rate:g} Hz" if s.nominal_rate > 0 else "irregular",
            s.channel_format,
            s.hostname or "-",
            s.source_id or "-",
        )
        for s in streams
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def run(args: argparse.Namespace) -> int:
    if args.wait <= 0:
        raise CliError("--wait must be positive")
    from dyadscope.sensors.lsl import list_streams

    streams = list_streams(wait=args.wait)
    if streams:
        print(stream_table(streams))
    else:
        print(f"no LSL streams found within {args.wait:g} s")
    return 0
