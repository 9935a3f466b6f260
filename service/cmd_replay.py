"""``dyadscope replay``: publish a recording's streams again as LSL outlets."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dyadscope.service._cli_args import positive_number
from dyadscope.service.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="republish an XDF recording's streams on LSL, in real time or faster",
        description=(
            "Open one LSL outlet per stream of FILE, with its original metadata, and push the "
            "samples with their recorded timing (moved to now), so the service, the demo or a "
            "research assistant can rehearse on a recording. Ctrl-C stops."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE.xdf", help="the recording to replay")
    parser.add_argument(
        "--speed", type=positive_number, default=1.0, metavar="X", help="play X times faster (default 1: real time)"
    )
    parser.add_argument("--loop", action="store_true", help="start again after the end, timestamps carrying on")
    parser.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS",
        help="wait up to this long for a consumer on every stream before starting (default: start at once)",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise CliError(f"{args.file} does not exist")
    if not args.verbose:
        logging.getLogger("pyxdf").setLevel(logging.WARNING)  # it narrates every load at INFO
    from dyadscope.sensors.replay import replay_streams  # loads liblsl only when needed
    from dyadscope.xdf.reader import load_xdf

    try:
        streams = load_xdf(args.file)
    except Exception as exc:  # pyxdf raises many kinds on files that are not XDF
        raise CliError(f"{args.file}: cannot read it as XDF ({type(exc).__name__}: {exc})") from None
    try:
        sent = replay_streams(streams, speed=args.speed, loop=args.loop, wait_for=args.wait)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot replay {args.file}: {exc}") from None
    print(f"replayed {sent} samples from {args.file}")
    return 0
