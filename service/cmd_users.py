"""``dyadscope users``: the accounts of the people who use the service, and their API tokens."""

from __future__ import annotations

import argparse
import sys

from dyadscope.service.errors import CliError

ROLES = ("admin", "therapist", "assistant", "researcher")  # dyadscope.service.users.ROLES, without its imports


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "users",
        help="add, list and remove accounts; issue and revoke API tokens",
        description=(
            "Accounts live in DATA_DIR/users.json; a running service sees changes at once. With at least one "
            "account the service's shared token stops working: people log in at /login and scripts use their "
            "own API tokens. Passwords are read from the terminal (twice) or, when piped, from one line of stdin."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add an account")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    actions.add_parser("list", help="the accounts and their roles")
    for action, text in (("remove", "remove an account and its tokens"), ("passwd", "set a new password")):
        actions.add_parser(action, help=text).add_argument("name")
    token = actions.add_parser("token", help="issue an API token for scripts (printed once)")
    token.add_argument("name")
    token.add_argument("--days", type=float, default=30.0, help="valid for (default 30, at most 366)")
    actions.add_parser("revoke", help="revoke every API token of an account").add_argument("name")
    parser.set_defaults(func=run)


def _password() -> str:
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CliError("the two passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    import getpass

    from dyadscope.service.audit import FILENAME as AUDIT_FILENAME
    from dyadscope.service.audit import AuditLog
    from dyadscope.service.config import Config
    from dyadscope.service.users import FILENAME, UserError, UserStore

    data_dir = Config.from_env().data_dir
    store = UserStore(data_dir / FILENAME)
    try:
        if args.action == "list":
            for user in store.all():
                print(f"{user.name}\t{user.role}")
            return 0
        if args.action == "add":
            store.add(args.name, args.role, _password())
            print(f"added {args.name} ({args.role})")
        elif args.action == "passwd":
            store.set_password(args.name, _password())
            print(f"new password for {args.name}")
        elif args.action == "remove":
            store.remove(args.name)
            print(f"removed {args.name}")
        elif args.action == "token":
            secret, expires = store.issue_token(args.name, args.days)
            print(secret)
            print(f"for {args.name}, valid until {expires:%Y-%m-%d %H:%M} UTC; shown once", file=sys.stderr)
        elif args.action == "revoke":
            print(f"revoked {store.revoke_tokens(args.name)} token(s) of {args.name}")
    except UserError as exc:
        raise CliError(str(exc)) from None
    AuditLog(data_dir / AUDIT_FILENAME).append(getpass.getuser(), f"user.{args.action}", None, target_user=args.name)
    return 0
