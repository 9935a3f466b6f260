"""``dyadscope tls init``: a local CA and a server certificate, so tablets reach the rig over HTTPS."""

from __future__ import annotations

import argparse
from pathlib import Path

from dyadscope.service.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tls",
        help="create a local CA and the rig's HTTPS certificate",
        description=(
            "For a clinic without its own certificates: creates a certificate authority once (it stays on this "
            "machine), then issues the server certificate for the names and addresses tablets use to reach the "
            "rig. Run it again to re-issue the server certificate (a new address, or before it expires in 397 "
            "days); the CA, and the tablets' trust in it, stay."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="create the CA (once) and issue the server certificate")
    init.add_argument("--name", action="append", default=[], help="a DNS name of the rig, e.g. rig.lan (repeatable)")
    init.add_argument("--ip", action="append", default=[], help="an IP address of the rig on the LAN (repeatable)")
    init.add_argument("--dir", type=Path, default=None, help="where to keep the files (default: DATA_DIR/tls)")
    init.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dyadscope.service.config import Config
    from dyadscope.service.tls import issue_server_certificate, tls_dir

    folder = args.dir or tls_dir(Config.from_env().data_dir)
    try:
        issued = issue_server_certificate(folder, args.name, args.ip)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write the certificates into {folder} ({exc.strerror})") from None
    host = (issued.addresses or ("0.0.0.0",))[0]
    reach = (issued.names or issued.addresses)[0]
    print(
        f"server certificate for {', '.join(issued.names + issued.addresses)}, valid until {issued.not_after:%Y-%m-%d}"
    )
    print(f"serve:   dyadscope serve --host {host} --tls-cert {issued.server_cert} --tls-key {issued.server_key}")
    print(f"tablets: open https://{reach}:8765/ca.pem once and trust it (the CA is {issued.ca_cert})")
    return 0
