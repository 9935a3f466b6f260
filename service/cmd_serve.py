"""``dyadscope serve``: run the service."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from dyadscope.service._cli_args import port_number, positive_number
from dyadscope.service.config import Config
from dyadscope.service.errors import CliError

if TYPE_CHECKING:  # the media stack (PyAV, aiortc, the models) loads only when a verb runs
    from dyadscope.sensors.media import MediaSource


def add_service_options(parser: argparse.ArgumentParser, *, default_port: int = 8765) -> None:
    """Options shared by the verbs that run the service."""
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument(
        "--port", type=port_number, default=None, help=f"port to listen on (default {default_port}; 0 = any free port)"
    )
    parser.add_argument("--tls-cert", type=Path, default=None, metavar="PEM", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", type=Path, default=None, metavar="PEM", help="the certificate's private key")
    parser.add_argument(
        "--allow-plain-http",
        action="store_true",
        default=None,
        help="serve plain HTTP on a host other than loopback (only behind a TLS proxy or on a closed network)",
    )
    parser.add_argument(
        "--media-udp-ports",
        default=None,
        metavar="FIRST-LAST",
        help="UDP ports of the capture pages' WebRTC media (default 50000-50099): open them in the firewall",
    )
    parser.add_argument(
        "--media-host",
        default=None,
        metavar="ADDRESS",
        help="address the WebRTC media binds to and announces (default: --host; e.g. the LAN address behind a proxy)",
    )
    parser.add_argument(
        "--duration", type=positive_number, default=None, metavar="SECONDS", help="stop by itself after this long"
    )
    parser.add_argument(
        "--bus",
        default=None,
        metavar="URL",
        help="message bus: 'memory' (default, one process) or redis[s]://USER:PASSWORD@HOST:PORT/0 "
        "(with a password, better in DYADSCOPE_BUS: the command line is visible to other users)",
    )
    parser.add_argument(
        "--bus-ca-file", type=Path, default=None, metavar="PEM", help="the CA a rediss:// server must chain to"
    )
    parser.add_argument(
        "--media",
        action="append",
        default=[],
        metavar="ROLE=FILE[,AUDIO]",
        help="play a video/audio file (or a video and an audio file) as that person's camera and microphone; "
        "shared=FILE: one room camera (patient left) and one microphone for both, voices told apart once "
        "enrolled on the rig page (repeatable; needs the models: dyadscope models build)",
    )
    parser.add_argument(
        "--assign",
        action="append",
        default=None,
        metavar="'STREAM NAME=role:modality'",
        help="assign an LSL stream explicitly (repeatable); otherwise roles come from stream metadata",
    )


def media_from_args(args: argparse.Namespace) -> list[MediaSource]:
    """The media files of ``--media``, checked (present, readable, one camera and one microphone each)."""
    from dyadscope.sensors.media import MediaOptionError, check_media_sources, parse_media_option

    try:
        sources = [source for text in args.media for source in parse_media_option(text)]
        check_media_sources(sources)
    except MediaOptionError as exc:
        raise CliError(f"--media: {exc}") from None
    return sources


def config_from_args(args: argparse.Namespace) -> Config:
    """The configuration the options and DYADSCOPE_* variables give."""
    from dyadscope.stream.assign import parse_overrides

    try:
        config = Config.from_env(
            host=args.host,
            port=args.port,
            bus=args.bus,
            bus_ca_file=args.bus_ca_file,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            allow_plain_http=args.allow_plain_http,
            media_udp_ports=args.media_udp_ports,
            media_host=args.media_host,
            assign=tuple(args.assign) if args.assign else None,
        ).with_token()
        parse_overrides(config.assign)  # a bad --assign is the user's to fix now, not a failed session later
    except ValueError as exc:
        raise CliError(f"bad configuration: {exc}") from None
    return config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the service (API, websockets, pages)",
        description="Run the DyadScope service. Sessions are opened through the API or with --session.",
    )
    add_service_options(parser)
    parser.add_argument(
        "--session",
        action="append",
        default=[],
        metavar="ID[=PROFILE]",
        help="open a session at start-up that ingests the LSL streams it can assign (repeatable); "
        "=PROFILE: only the streams of that saved rig profile (<data_dir>/rigs/PROFILE.json)",
    )
    parser.add_argument(
        "--streams",
        action="append",
        default=[],
        metavar="ID=PATTERN[,PATTERN]",
        help="the streams session ID takes, by name:GLOB, source_id:GLOB or host:GLOB (repeatable); "
        "without: every stream no other session holds",
    )
    parser.set_defaults(func=run)


def session_specs(args: argparse.Namespace) -> list[tuple[str, str | None, tuple[str, ...]]]:
    """``--session ID[=PROFILE]`` and ``--streams ID=PATTERNS`` as (id, profile, patterns) per session."""
    specs = [(sid.strip(), profile.strip() or None) for sid, _, profile in (t.partition("=") for t in args.session)]
    patterns: dict[str, list[str]] = {}
    for text in args.streams:
        sid, sep, listed = text.partition("=")
        if not sep or sid.strip() not in {s for s, _ in specs} or not listed.strip():
            raise CliError(f"--streams {text!r}: give ID=PATTERN[,PATTERN] for a session given with --session")
        patterns.setdefault(sid.strip(), []).extend(p.strip() for p in listed.split(",") if p.strip())
    return [(sid, profile, tuple(patterns.get(sid, ()))) for sid, profile in specs]


def run(args: argparse.Namespace) -> int:
    from dyadscope.service.runner import run_service

    config = config_from_args(args)
    media = media_from_args(args)
    if media and len(args.session) != 1:
        raise CliError("--media plays into one session: give exactly one --session")
    asyncio.run(run_service(config, sessions=session_specs(args), media=media, duration=args.duration))
    return 0
