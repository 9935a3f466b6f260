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
    #: The message bus: "memory" (one process) or a redis:// URL.
    bus: str = "memory"
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
            elif f.name in ("data_dir", "model_dir", "tls_cert", "tls_key"):
                values[f.name] = Path(raw)
            elif f.name == "assign":
                values[f.name] = tuple(s for s in raw.split(";") if s.strip())
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
