"""``dyadscope simulate``: publish a simulated patient–therapist dyad over LSL."""

from __future__ import annotations

import argparse

from dyadscope.service.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="publish a simulated dyad (ECG, respiration, EDA of two people) over LSL",
        description=(
            "Publish the simulated dyad as six LSL streams in real time, until Ctrl-C or --duration. "
            "Its planted structure (RSA, EDA following, arousal episodes) is documented in "
            "dyadscope.sensors.simulate."
        ),
    )
    parser.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this long")
    parser.add_argument(
        "--seed", type=int, default=1, help="random seed; the same seed gives the same signals (default 1)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.duration is not None and args.duration <= 0:
        raise CliError("--duration must be positive")
    from dyadscope.sensors.lsl import local_clock
    from dyadscope.sensors.lsl_outlets import LslPublisher
    from dyadscope.sensors.simulate import SimulatedDyad
    from dyadscope.service.cmd_streams import stream_table

    dyad = SimulatedDyad(args.seed, start_time=local_clock())
    publisher = LslPublisher(dyad, duration=args.duration)
    publisher.start()
    try:
        print(stream_table(publisher.streams), flush=True)
        until = f"for {args.duration:g} s" if args.duration else "until Ctrl-C"
        print(f"publishing {until}", flush=True)
        while not publisher.wait(0.5):
            pass
    finally:
        publisher.stop()
    return 0
