"""``dyadscope rigs``: save, list and show rig profiles (one room's streams) in ``<data_dir>/rigs``."""

from __future__ import annotations

import argparse
import json

from dyadscope.service.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rigs",
        help="save, list or show rig profiles: the streams a room's session takes",
        description="A rig profile names one room's LSL streams; start a session on it with "
        "serve --session ID=PROFILE or POST /api/sessions {'profile': ...}.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    save = actions.add_parser("save", help="save (or replace) a profile")
    save.add_argument("name", help="1-64 letters, digits, '_' or '-'")
    save.add_argument(
        "--streams", action="append", default=[], metavar="PATTERN", help="name:GLOB, source_id:GLOB, host:GLOB ..."
    )
    save.add_argument("--assign", action="append", default=[], metavar="'STREAM=role:modality'")
    save.add_argument("--require", action="append", default=[], metavar="role:modality", help="e.g. patient:ECG")
    actions.add_parser("list", help="the saved profiles, one a line")
    show = actions.add_parser("show", help="print a profile as JSON")
    show.add_argument("name")
    for sub in actions.choices.values():
        sub.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dyadscope.service.config import Config
    from dyadscope.service.rigs import ProfileMissing, RigProfiles
    from dyadscope.stream.selection import SelectionError, StreamSelection

    profiles = RigProfiles(Config.from_env().data_dir)
    try:
        if args.action == "save":
            selection = StreamSelection(tuple(args.streams), tuple(args.assign), tuple(args.require))
            print(f"saved {profiles.save(args.name, selection)}")
        elif args.action == "list":
            for name in profiles.names():
                print(name)
        else:
            print(json.dumps(profiles.load(args.name).to_json(), indent=2))
    except (SelectionError, ProfileMissing) as exc:
        raise CliError(str(exc).strip("'\"")) from None
    return 0
