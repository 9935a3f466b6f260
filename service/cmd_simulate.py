"""``dyadscope simulate``: publish a simulated patient–therapist dyad over LSL, or write it to an XDF file."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from dyadscope.service._cli_args import positive_number
from dyadscope.service.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="publish a simulated dyad (ECG, respiration, EDA of two people) over LSL, or write it to a file",
        description=(
            "Publish the simulated dyad as six LSL streams in real time, until Ctrl-C or --duration; "
            "with --out, write --duration seconds of it to an XDF file at full speed instead, with its "
            "planted structure in the file header and as markers. The structure (RSA, EDA following, "
            "arousal episodes) is documented in dyadscope.sensors.simulate."
        ),
    )
    parser.add_argument(
        "--duration", type=positive_number, default=None, metavar="SECONDS", help="stop after this long"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="random seed; the same seed gives the same signals (default 1)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, metavar="FILE.xdf", help="write to this XDF file (needs --duration)"
    )
    parser.add_argument("--force", action="store_true", help="with --out: replace an existing file")
    parser.add_argument("--no-progress", action="store_true", help="with --out: no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.duration is not None and args.duration <= 0:
        raise CliError("--duration must be positive")
    if args.out is not None:
        return _write(args)
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


def _write(args: argparse.Namespace) -> int:
    """``--out``: the simulated session to a new XDF file, at full speed."""
    out: Path = args.out
    if args.duration is None:
        raise CliError("--out needs --duration (seconds of session to write)")
    if out.is_dir():
        raise CliError(f"{out} is a folder; give a file name, e.g. {out / 'simulated.xdf'}")
    if out.exists():
        if not args.force:
            raise CliError(f"{out} exists; choose another name or add --force to replace it")
        out.unlink()
    _check_folder(out.parent)
    from tqdm import tqdm

    from dyadscope.sensors.simulate_file import write_simulated_recording
    from dyadscope.xdf.recorder import RecordingError

    with tqdm(
        total=args.duration, unit="s", desc="simulating", disable=args.no_progress, leave=False, delay=0.5
    ) as bar:

        def progress(reached: float) -> None:
            bar.update(reached - bar.n)

        try:
            planted = write_simulated_recording(out, args.duration, seed=args.seed, progress=progress)
        except RecordingError as exc:
            raise CliError(str(exc)) from None
    follow = planted["eda_follow"]["stretches_s"]
    print(f"wrote {args.duration:g} s of the simulated dyad (seed {args.seed}) to {out}: six streams, "
          f"rest {planted['rest_s'][1]:g} s, {len(follow)} EDA follow stretches")  # fmt: skip
    return 0


def _check_folder(folder: Path) -> None:
    """The folder for the file can be created and written (the recorder creates missing folders)."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise CliError(f"{existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CliError(f"{existing} is not writable")
