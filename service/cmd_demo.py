"""``dyadscope demo``: the service and a simulated dyad, in one command."""

from __future__ import annotations

import argparse
import asyncio

from dyadscope.service.cmd_serve import add_service_options, config_from_args, media_from_args

DEMO_SESSION = "demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the service with a simulated patient-therapist dyad over LSL",
        description=(
            "Start the service on this machine, publish a simulated dyad (ECG, respiration, EDA of a "
            f"patient and a therapist) over LSL, ingest it into session {DEMO_SESSION!r} and open the monitor."
        ),
    )
    add_service_options(parser)
    parser.add_argument("--no-browser", action="store_true", help="print the monitor's URL but do not open a browser")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated dyad (default 1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dyadscope.sensors.lsl import local_clock
    from dyadscope.sensors.lsl_outlets import LslPublisher
    from dyadscope.sensors.simulate import SimulatedDyad
    from dyadscope.service.runner import run_service

    config = config_from_args(args)
    media = media_from_args(args)
    publisher = LslPublisher(SimulatedDyad(args.seed, start_time=local_clock()))
    ours = {info.source_id for info in publisher.streams}
    publisher.start()
    try:
        asyncio.run(
            run_service(
                config,
                sessions=[DEMO_SESSION],
                # only the simulated dyad: another rig on the network must not leak in
                select=lambda info: info.source_id in ours,
                media=media,
                loop_media=True,  # a demo runs on; the files start again
                duration=args.duration,
                open_browser=not args.no_browser,
            )
        )
    finally:
        publisher.stop()
    return 0
