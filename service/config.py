"""Service configuration: defaults, environment variables, command-line flags.

Precedence: command-line flag, then ``DYADSCOPE_<NAME>`` environment variable,
then the default. The defaults are the embedded single-process setup: listen
on loopback only, in-memory bus, no Redis.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "DYADSCOPE_"
#: Shortest token accepted beyond loopback (the generated ones have 24 characters).
MIN_TOKEN_LENGTH = 20


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dyadscope"


@dataclass(frozen=True)
class Config:
    """Everything the service needs to know at start-up."""

    #: Address to listen on. Loopback by default: nothing listens beyond
    #: this machine unless asked to.
    host: str = "127.0.0.1"
    port: int = 8765
    #: Access token required on every API and websocket call. Empty means
    #: "generate one at start-up" (printed in the URL); "none" disables
    #: auth, which is only accepted on a loopback host.
    token: str = ""
    #: Where recordings and history live.
    data_dir: Path = field(default_factory=_default_data_dir)
    #: Where the ONNX models live (None: ``<XDG data>/dyadscope/models``).
    model_dir: Path | None = None
    #: The message bus: "memory" (one process) or a Redis URL with the
    #: credentials of its ACL user, ``redis://USER:PASSWORD@HOST:6379/0``
    #: (``rediss://`` for TLS). Give it in the environment, not on the
    #: command line, where other users' ``ps`` would show the password.
    bus: str = "memory"
    #: The CA (PEM) a ``rediss://`` server's certificate must chain to (default: the system's).
    bus_ca_file: Path | None = None
    #: The secret that signs events on a Redis bus (16 characters or more);
    #: every node of a deployment needs the same. Empty: ``<data_dir>/bus.key``,
    #: made once.
    bus_key: str = ""
    #: Events kept per session for resuming monitors.
    event_log_length: int = 20_000
    #: Default length of the resting baseline phase, seconds.
    baseline_s: float = 180.0
    #: Chunks waiting for processing per session before LSL pulls pause.
    ingest_queue_length: int = 256
    #: A websocket client this far behind in reading (its answer to a ping
    #: has not come back) is closed with 1013 and resumes, seconds.
    slow_client_s: float = 10.0
    #: Largest message a websocket client may send, in bytes.
    max_client_message: int = 4096
    #: Explicit stream assignments, "STREAM NAME=role:modality".
    assign: tuple[str, ...] = ()
    #: HTTPS: the server certificate (PEM, with its chain) and its key; see
    #: ``dyadscope tls init``. Required on a host other than loopback unless
    #: ``allow_plain_http`` is set.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Serve plain HTTP beyond loopback (a closed network, or a TLS proxy or
    #: container port published to loopback in front).
    allow_plain_http: bool = False
    #: A logged-in browser is logged off after this long without a request, seconds.
    idle_logout_s: float = 900.0
    #: DNS names clients use to reach the service (e.g. the rig's LAN name).
    #: IP addresses and localhost are always accepted; any other Host header
    #: is refused, so a DNS-rebinding page cannot talk to the service.
    server_names: tuple[str, ...] = ()
    #: Origins (``scheme://host[:port]``) of other sites' pages allowed to
    #: call the API and open websockets; the service's own pages always are.
    allowed_origins: tuple[str, ...] = ()
    #: Largest request body, bytes; larger ones get 413 before they are read.
    max_body_bytes: int = 65_536
    #: Open connections in all, and from one client address; more get 503.
    max_connections: int = 512
    max_connections_per_client: int = 64
    #: Time a client has to send a request's headers, and its body, seconds.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    #: A Bearer token that reads ``/metrics`` and nothing else (for Prometheus); empty: admins only.
    metrics_token: str = ""
    #: Authors of BIDS exports (``dyadscope export --to bids``), in the env names separated by ';'.
    bids_authors: tuple[str, ...] = ()
    #: WebRTC media (capture pages): the address its UDP sockets bind to and
    #: announce (empty: the service's host; 0.0.0.0 every interface), and the
    #: UDP ports they use, "FIRST-LAST" (one port per capture device). A
    #: firewall between tablets and the service must let this range through.
    media_host: str = ""
    media_udp_ports: str = "50000-50099"
    #: A capture connection not connected this long after its answer is closed, seconds.
    media_connect_timeout_s: float = 20.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Config:
        """Defaults, overridden by ``DYADSCOPE_*`` variables, then by ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            if f.type == "int":
                values[f.name] = int(raw)
            elif f.type == "float":
                values[f.name] = float(raw)
            elif f.type == "bool":
                values[f.name] = _flag(f.name, raw)
            elif f.name in ("data_dir", "model_dir", "tls_cert", "tls_key", "bus_ca_file"):
                values[f.name] = Path(raw)
            elif f.name == "assign":
                values[f.name] = tuple(s for s in raw.split(";") if s.strip())
            elif f.name == "bids_authors":  # names hold spaces and commas
                values[f.name] = tuple(s.strip() for s in raw.split(";") if s.strip())
            elif f.type == "tuple[str, ...]":
                values[f.name] = tuple(raw.replace(",", " ").split())
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_token(self) -> Config:
        """This configuration, checked for what it exposes, with a concrete token (a fresh random one if unset)."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("give the TLS certificate and its key together (--tls-cert and --tls-key)")
        self.media_ports  # noqa: B018 - a bad range is the user's to fix at start-up
        if self.metrics_token and len(self.metrics_token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"the metrics token needs {MIN_TOKEN_LENGTH} characters or more")
        if not is_loopback(self.host):
            self._check_exposed()
        if self.token:
            return self
        return replace(self, token=secrets.token_urlsafe(18))

    def _check_exposed(self) -> None:
        """What a service reachable from the network must have: a real token, and TLS unless waived."""
        if self.token == "none":
            raise ValueError(f"auth can only be disabled on a loopback host, not {self.host!r}")
        if self.token and len(self.token) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"a token on {self.host!r} needs {MIN_TOKEN_LENGTH} characters or more; leave it unset for a random one"
            )
        if self.tls_cert is None and not self.allow_plain_http:
            raise ValueError(
                f"on {self.host!r} the token and every event would cross the network unencrypted: give --tls-cert "
                "and --tls-key (dyadscope tls init makes them), or --allow-plain-http behind a TLS proxy"
            )

    @property
    def media_ports(self) -> tuple[int, int]:
        """``media_udp_ports`` as (first, last), both included."""
        first, _, last = self.media_udp_ports.partition("-")
        try:
            ports = (int(first), int(last or first))
        except ValueError:
            ports = (0, 0)
        if not 1024 <= ports[0] <= ports[1] <= 65535:
            raise ValueError(f"media UDP ports must be FIRST-LAST within 1024-65535, not {self.media_udp_ports!r}")
        return ports

    @property
    def media_bind_host(self) -> str:
        """The address WebRTC media binds to: ``media_host``, or the service's host."""
        return self.media_host or self.host

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def auth_enabled(self) -> bool:
        return self.token != "none"


def _flag(name: str, raw: str) -> bool:
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{ENV_PREFIX}{name.upper()} must be true or false, not {raw!r}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    return host in ("localhost", "::1") or host.startswith("127.")
