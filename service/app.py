"""The service's ASGI app: the API, the websockets and the pages, assembled.

* ``GET /api/health`` — liveness (no token).
* ``/api/sessions/...`` — sessions, baseline, markers, recording
  (:mod:`dyadscope.service.routes_sessions`); 503 with the reason while the
  event bus (Redis) is unavailable.
* ``WS /ws/sessions/{id}?after=SEQ`` — a session's events, resumable
  (:mod:`dyadscope.service.routes_ws`).
* ``GET /api/recordings``, ``GET /api/recordings/{path}`` — the finished recordings, for researchers
  (:mod:`dyadscope.service.routes_recordings`).
* ``GET /api/audit?session=ID&last=N`` — the audit trail (:mod:`dyadscope.service.audit`).
* ``GET /api/kinds`` — the codebook of event kinds (:mod:`dyadscope.service.routes_kinds`).
* ``POST /api/sessions/{id}/webrtc/offer`` and ``GET /capture`` — cameras and
  microphones (see :mod:`dyadscope.service.routes_webrtc`).
* the pages (:data:`PAGES`): ``/`` (the therapist's monitor), ``/rig`` (the research assistant's
  controls), ``/login``, ``/audit`` (the admin's view of the trail), and ``/static``.
* ``/api/sessions/{id}/speakers/...`` — enrolling voices, who is speaking
  (:mod:`dyadscope.service.routes_speakers`).
* ``GET /ca.pem`` — the local CA of ``dyadscope tls init``, for tablets to trust.
* ``GET /metrics`` — Prometheus metrics, for admins (:mod:`dyadscope.service.metrics`).

Every API call and websocket needs the service's access token
(:mod:`dyadscope.service.auth`); host, origin, token and body limits are
checked before the app reads a request (:mod:`dyadscope.service.request_guard`). The routes find the configuration, the
sessions and the WebRTC hub in ``app.state`` (``config``, ``manager``,
``webrtc``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from dyadscope.models.engine import ModelEngine
from dyadscope.sensors.ice import IceSettings
from dyadscope.service import (
    routes_login,
    routes_recordings,
    routes_rigs,
    routes_sessions,
    routes_speakers,
    routes_ws,
)
from dyadscope.service.audit import FILENAME as AUDIT_FILENAME
from dyadscope.service.audit import GENESIS, AuditLog, Verdict, verify
from dyadscope.service.auth import audit
from dyadscope.service.config import Config
from dyadscope.service.event_feed import EventFeeds
from dyadscope.service.metrics import install_metrics
from dyadscope.service.request_guard import RequestGuard
from dyadscope.service.routes_kinds import kinds_router
from dyadscope.service.routes_sessions import permitted, session_for
from dyadscope.service.routes_webrtc import WebRtcHub, create_webrtc_router
from dyadscope.service.sessions import SessionManager
from dyadscope.service.tls import CA_CERT, tls_dir
from dyadscope.service.users import FILENAME as USERS_FILENAME
from dyadscope.service.users import UserStore
from dyadscope.service.web_sessions import WebSessions
from dyadscope.stream.bus import BusUnavailable

STATIC_DIR = files("dyadscope.client") / "static"


def create_app(config: Config, manager: SessionManager) -> FastAPI:
    """The service's ASGI app; ``manager`` owns the sessions and their bus."""

    webrtc = WebRtcHub(
        lambda session_id: (s := manager.get(session_id)) and s.publish,
        IceSettings.for_host(config.media_bind_host, config.media_ports, config.media_connect_timeout_s),
        lambda: ModelEngine.from_dir(config.model_dir),
    )
    manager.stop_hooks.append(webrtc.close_session)
    feeds = EventFeeds(manager.bus, config.event_log_length)
    manager.stop_hooks.append(feeds.end)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await manager.stop_all()
        await webrtc.close()

    # No /docs or /redoc: they load their scripts from a CDN (blank offline). The
    # schema is under /api, so it needs the token like the API it describes.
    app = FastAPI(
        title="DyadScope",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.config, app.state.manager, app.state.webrtc, app.state.feeds = config, manager, webrtc, feeds
    app.state.audit = AuditLog(config.data_dir / AUDIT_FILENAME)
    app.state.users = UserStore(config.data_dir / USERS_FILENAME)
    app.state.web_sessions = WebSessions(idle_s=config.idle_logout_s)
    app.add_exception_handler(BusUnavailable, bus_unavailable)
    app.add_api_route("/api/health", health, methods=["GET"])
    app.add_api_route(
        "/api/audit/verify", audit_verdict, methods=["GET"], dependencies=[Depends(permitted("audit.view"))]
    )
    app.add_api_route("/api/audit", audit_entries, methods=["GET"], dependencies=[Depends(permitted("audit.view"))])
    app.include_router(routes_sessions.router)
    app.include_router(routes_recordings.router)
    app.include_router(routes_speakers.router)
    app.include_router(routes_rigs.router)
    app.include_router(routes_login.router)
    app.include_router(routes_ws.router)
    app.include_router(kinds_router)  # the codebook: documentation, no token
    app.include_router(
        create_webrtc_router(
            webrtc,
            offer_dependencies=[Depends(session_for("capture.start"))],
            metrics_dependencies=[Depends(permitted("models.metrics"))],
        )
    )
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for path, filename in PAGES.items():
        app.add_api_route(path, _page(filename), methods=["GET"], include_in_schema=False)
    app.add_api_route("/ca.pem", ca_certificate, methods=["GET"], include_in_schema=False)
    install_metrics(app, manager, lambda: webrtc.built_engine)  # GET /metrics (Prometheus), admins only
    app.add_middleware(RequestGuard, config=config, hsts=config.tls)
    return app


async def bus_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 with the reason (the bus logged the outage once), for any route that needed the bus while it was down."""
    return JSONResponse({"detail": f"{exc}; try again shortly"}, status_code=503, headers={"Retry-After": "2"})


async def health(request: Request) -> dict[str, Any]:
    """Liveness and the number of running sessions; needs no token."""
    return {"status": "ok", "sessions": len(request.app.state.manager.all())}


async def audit_entries(request: Request, session: str | None = None, last: int = 100) -> list[dict[str, Any]]:
    """The audit trail's last entries (of one session), oldest first: the admin's view."""
    if not 1 <= last <= 10_000:
        raise HTTPException(status_code=422, detail="last must be 1-10000")
    entries = await asyncio.to_thread(request.app.state.audit.last, last, session)  # reads the file
    audit(request, "audit.view", session)
    return entries


async def audit_verdict(request: Request) -> dict[str, Any]:
    """Whether the audit trail's hash chain holds (:func:`~dyadscope.service.audit.verify`), for the admin's view."""
    path = request.app.state.audit.path
    verdict = await asyncio.to_thread(verify, path) if path.exists() else Verdict(True, 0, GENESIS)
    audit(request, "audit.verify")
    return dataclasses.asdict(verdict)


async def ca_certificate(request: Request) -> FileResponse:
    """The local CA of ``dyadscope tls init``, for tablets to trust (public: a certificate, never its key)."""
    path = tls_dir(request.app.state.config.data_dir) / CA_CERT
    if not path.is_file():
        raise HTTPException(status_code=404, detail="no local CA: the certificate comes from the clinic's own PKI")
    return FileResponse(str(path), media_type="application/x-x509-ca-cert", filename="dyadscope-ca.pem")


#: The pages, each a static file: its path and what it is for.
PAGES = {
    "/": "monitor.html",  # the therapist's monitor
    "/rig": "rig.html",  # the research assistant's controls
    "/login": "login.html",  # the login form (with accounts; see dyadscope users)
    "/audit": "audit.html",  # the admin's view of the audit trail
}


def _page(filename: str) -> Callable[[], Awaitable[FileResponse]]:
    async def page() -> FileResponse:
        return FileResponse(str(STATIC_DIR / filename))

    return page
