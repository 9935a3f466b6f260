"""The ``dyadscope`` command line.

Each verb lives in its own module ``dyadscope.service.cmd_<verb>``, which
offers ``register(subparsers)``: it adds its parser (with help on every option)
and sets ``func`` to a callable that takes the parsed arguments and returns the
exit code. Building the parser imports every verb module, so each keeps its
top-level imports argparse-light and imports its real work inside ``run``:
``dyadscope --help`` and every verb's ``--help`` start at once and work
without the model runtime (``tests/test_service_cli_imports.py`` checks it).
Errors a user can act on are raised as
:class:`~dyadscope.service.errors.CliError` and printed as one line, never as
a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from dyadscope.service.errors import CliError

#: Verb modules, in the order ``--help`` lists them.
VERBS = (
    "demo",
    "serve",
    "streams",
    "simulate",
    "analyze",
    "record",
    "repair",
    "replay",
    "export",
    "models",
    "kinds",
    "tls",
    "audit",
    "users",
    "health",
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dyadscope")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with one sub-parser per verb."""
    parser = argparse.ArgumentParser(
        prog="dyadscope",
        description="Real-time in-session monitoring for psychotherapy.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action="version", version=f"dyadscope {_version()}")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        importlib.import_module(f"dyadscope.service.cmd_{verb}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dyadscope`` script."""
    args = build_parser().parse_args(argv)
    os.umask(0o077)  # recordings, history and exports are patient data: for this user only
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"dyadscope {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
