"""``dyadscope health``: whether the service on this machine answers, for container and unit health checks.

Reads the service's own configuration (``DYADSCOPE_HOST``, ``_PORT``,
``_TLS_CERT``), asks ``GET /api/health`` and exits 0 when it answers
``{"status": "ok"}``, 1 otherwise with one line saying why. A service on all
interfaces (``0.0.0.0``, ``::``) is asked on loopback. Over HTTPS the
certificate is not verified: it is issued for the rig's LAN names, not for
loopback, and the probe sends no credentials and reads nothing but "ok".
"""

from __future__ import annotations

import argparse
import sys

from dyadscope.service.config import Config
from dyadscope.service.errors import CliError

_ALL_INTERFACES = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``health`` verb."""
    parser = subparsers.add_parser(
        "health",
        help="check that the service on this machine answers (exit 0 healthy, 1 not)",
        description="Ask the service configured by DYADSCOPE_* (host, port, TLS) for GET /api/health.",
    )
    parser.add_argument("--port", type=int, default=None, help="the service's port (default $DYADSCOPE_PORT or 8765)")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="how long to wait (default 5)")
    parser.set_defaults(func=run)


def health_url(config: Config) -> str:
    """Where the service of ``config`` answers its health check."""
    host = _ALL_INTERFACES.get(config.host, config.host)
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if config.tls else 'http'}://{host}:{config.port}/api/health"


def run(args: argparse.Namespace) -> int:
    import json
    import ssl
    import urllib.request

    try:
        config = Config.from_env(port=args.port)
    except ValueError as exc:
        raise CliError(f"bad configuration: {exc}") from None
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # see the module docstring
    url = health_url(config)
    try:
        with urllib.request.urlopen(url, timeout=args.timeout, context=context) as reply:
            status = json.loads(reply.read()).get("status")
    except (OSError, ValueError) as exc:
        print(f"dyadscope health: {url}: {exc}", file=sys.stderr)
        return 1
    if status != "ok":
        print(f"dyadscope health: {url} answered status {status!r}", file=sys.stderr)
        return 1
    print(f"ok: {url}")
    return 0
