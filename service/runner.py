"""Running the service: bind, serve, open sessions, stop cleanly.

Shared by ``dyadscope serve`` and ``dyadscope demo``. The socket is bound
here rather than by uvicorn so that a port already in use is a clear error,
and port 0 (any free port, used by the tests) is reported back.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import webbrowser
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import uvicorn

from dyadscope.models.library import ModelMissing
from dyadscope.sensors.media import MediaSource
from dyadscope.service.app import create_app
from dyadscope.service.bus_key import bus_key
from dyadscope.service.config import Config, is_loopback
from dyadscope.service.errors import CliError
from dyadscope.service.http_limits import Limits, limited_protocol, quiet_accept_errors, raise_open_file_limit
from dyadscope.service.media import attach_media
from dyadscope.service.session import Session
from dyadscope.service.sessions import SessionError, SessionManager, recordings_root
from dyadscope.service.users import FILENAME as USERS_FILENAME
from dyadscope.service.users import UserStore
from dyadscope.service.ws_protocol import SlowClientClosingProtocol
from dyadscope.stream.bus import BusUnavailable, open_bus
from dyadscope.stream.selection import SelectionError, StreamSelection
from dyadscope.stream.types import StreamInfo
from dyadscope.xdf.repair import repair_unfinished

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a :class:`CliError` that says what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def page_url(config: Config, port: int, session_id: str, page: str = "") -> str:
    """The URL of a page (``""``: the monitor, ``"rig"``) for a session.

    The token rides in the fragment, so it never reaches a server log.
    """
    host = f"[{config.host}]" if ":" in config.host else config.host
    url = f"{'https' if config.tls else 'http'}://{host}:{port}/{page}?session={session_id}"
    return url + (f"#token={config.token}" if config.auth_enabled else "")


def check_certificate(config: Config) -> None:
    """A :class:`CliError` unless the configured TLS certificate and key load and belong together."""
    if not config.tls:
        return
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(config.tls_cert, config.tls_key)
    except OSError as exc:  # ssl.SSLError is one
        reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
        if reason == "KEY_VALUES_MISMATCH":
            reason = "the key does not belong to the certificate"
        raise CliError(
            f"cannot use the TLS certificate {config.tls_cert} with key {config.tls_key} ({reason})"
        ) from None


def check_accounts(config: Config) -> None:
    """A :class:`CliError` if a service reachable from the network would run on the one shared token."""
    if not is_loopback(config.host) and not UserStore(config.data_dir / USERS_FILENAME).any():
        raise CliError(
            f"on {config.host} people need their own accounts; the shared token is for this machine only. "
            "Add one first: dyadscope users add NAME --role admin"
        )


class Service:
    """The service as one object: socket, bus, sessions, app and server."""

    def __init__(self, config: Config):
        self.config = config
        check_certificate(config)
        check_accounts(config)
        raise_open_file_limit()
        quiet_accept_errors()
        self._sock = bind(config.host, config.port)
        self.port: int = self._sock.getsockname()[1]
        self.bus = open_bus(
            config.bus,
            config.event_log_length,
            key=None if config.bus == "memory" else bus_key(config),
            ca_file=str(config.bus_ca_file) if config.bus_ca_file else None,
        )
        self.manager = SessionManager(config, self.bus)
        self.app = create_app(config, self.manager)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_level="warning",
                access_log=False,  # URLs can carry the access token
                lifespan="on",
                ws=SlowClientClosingProtocol,
                ws_max_size=config.max_client_message,
                ws_ping_interval=config.slow_client_s / 2,
                ws_ping_timeout=config.slow_client_s,
                ws_per_message_deflate=False,  # compressing each event once per client costs more than it saves
                http=limited_protocol(
                    Limits(config.max_connections, config.max_connections_per_client, config.header_timeout_s)
                ),
                timeout_keep_alive=5,
                ssl_certfile=config.tls_cert,
                ssl_keyfile=config.tls_key,
            )
        )
        self._serving: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Close recordings a crash left unfinished, then serve in the background.

        Returns once connections are accepted.
        """
        await self.check_bus()
        await asyncio.to_thread(self.repair_recordings)
        self._serving = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # start-up failed: raise why
                raise RuntimeError("the server stopped during start-up")
            await asyncio.sleep(0.02)

    async def check_bus(self) -> None:
        """A :class:`CliError` that says why, unless the bus answers (right password, TLS that verifies)."""
        try:
            await self.bus.check()
        except BusUnavailable as exc:
            await self.bus.close()
            self._sock.close()
            raise CliError(f"cannot use the event bus: {exc}") from None
        if self.config.bus.startswith(("redis://", "rediss://")) and urlsplit(self.config.bus).password is None:
            log.warning(
                "the Redis bus has no password: any process that reaches it can delete or stall the events "
                "(their signatures keep them from being forged); see the README's Redis section"
            )

    def repair_recordings(self) -> int:
        """Repair the unfinished XDF files below the recordings folder (files a live recorder holds are left alone)."""
        root = recordings_root(self.config)
        if not root.is_dir():
            return 0
        repaired = repair_unfinished(root)
        if repaired:
            log.warning("closed %d recording(s) left unfinished by a crash below %s", len(repaired), root)
        return len(repaired)

    async def wait(self, timeout: float | None = None) -> None:
        """Until the server stops by itself (Ctrl-C) or ``timeout`` passes."""
        assert self._serving is not None, "start() first"
        await asyncio.wait({self._serving}, timeout=timeout)

    async def stop(self) -> None:
        """Stop accepting, stop every session, close the bus."""
        self._server.should_exit = True
        if self._serving is not None:
            await self._serving
        await self.bus.close()

    def url(self, session_id: str, page: str = "") -> str:
        """The URL of the monitor (or another page) for a session."""
        return page_url(self.config, self.port, session_id, page)


async def _play(service: Service, session: Session, media: Sequence[MediaSource], loop: bool) -> None:
    """Play media files into a session until it stops."""
    hub = service.app.state.webrtc
    try:
        files = await attach_media(lambda: hub.analysis(session.id, session.publish), media, hub.clock, loop=loop)
    except ModelMissing as exc:
        raise CliError(str(exc)) from None
    session.on_stop(files.stop)


async def run_service(
    config: Config,
    *,
    sessions: Sequence[str | tuple[str, str | None, tuple[str, ...]]] = (),
    select: Callable[[StreamInfo], bool] | None = None,
    media: Sequence[MediaSource] = (),
    loop_media: bool = False,
    duration: float | None = None,
    open_browser: bool = False,
) -> None:
    """Serve until interrupted or for ``duration`` seconds, with ``sessions`` open.

    The sessions (ids, or (id, rig profile, stream patterns)) ingest the LSL
    streams they can assign (narrowed by ``select``); ``media`` files play
    into the first as cameras and microphones (again and again with
    ``loop_media``).
    """
    specs = [(s, None, ()) if isinstance(s, str) else s for s in sessions]
    try:
        service = Service(config)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    await service.start()
    try:
        for index, (session_id, profile, patterns) in enumerate(specs):
            try:
                session = await service.manager.create(
                    session_id, select=select, profile=profile, selection=StreamSelection(patterns)
                )
            except (SessionError, SelectionError) as exc:  # a bad id, a missing profile, a bad pattern
                raise CliError(f"--session {session_id}: {exc}") from None
            if media and index == 0:
                await _play(service, session, media, loop_media)
        print(f"DyadScope is listening on {config.host}:{service.port}", flush=True)
        ice = service.app.state.webrtc.ice
        print(f"Capture media: UDP {ice.ports} on {', '.join(ice.addresses)} (let it through any firewall)", flush=True)
        for session_id, _, _ in specs:
            url = service.url(session_id)
            print(f"Monitor for session {session_id!r}: {url}", flush=True)
            print(f"Rig page for session {session_id!r}: {service.url(session_id, 'rig')}", flush=True)
            if open_browser:
                webbrowser.open(url)
        await service.wait(duration)
    finally:
        await service.stop()
