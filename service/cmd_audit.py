"""``dyadscope audit``: check the audit trail's hash chain, or show its last entries."""

from __future__ import annotations

import argparse
from pathlib import Path

from dyadscope.service.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="verify or show the audit trail of accesses to sessions",
        description="The service appends every access to a session's data to a hash-chained audit file.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("verify", help="check every entry's hash and link; exit 1 if the file was tampered with")
    check.add_argument("--last-hash", default=None, help="a last hash kept elsewhere: also detects entries cut off")
    show = actions.add_parser("show", help="print the last entries, one line each")
    show.add_argument("--session", default=None, help="only this session's entries")
    show.add_argument("--last", type=int, default=50, help="how many (default 50)")
    for sub in (check, show):
        sub.add_argument("--file", type=Path, default=None, help="the audit file (default: DATA_DIR/audit.jsonl)")
        sub.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dyadscope.service.audit import FILENAME, AuditLog, verify
    from dyadscope.service.config import Config

    path = args.file or Config.from_env().data_dir / FILENAME
    if not path.is_file():
        raise CliError(f"no audit file at {path}")
    if args.action == "show":
        for entry in AuditLog(path).last(args.last, args.session):
            detail = " ".join(f"{k}={v}" for k, v in entry["detail"].items())
            who_did = f"{entry['user']:<12} {entry['action']:<16} {entry['session'] or '-'}"
            print(f"{entry['seq']:>6} {entry['time']} {who_did} {detail}")
        return 0
    verdict = verify(path, args.last_hash)
    if not verdict.ok:
        print(f"TAMPERED: {verdict.problem}; {verdict.entries} entries before it check out")
        return 1
    print(f"ok: {verdict.entries} entries, chain intact; last hash {verdict.last_hash}")
    return 0
