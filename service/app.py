"""The service's ASGI app: the API, the websockets and the pages, assembled.

* ``GET /api/health`` — liveness (no token).
* ``/api/sessions/...`` — sessions, baseline, markers, recording
  (:mod:`dyadscope.service.routes_sessions`).
* ``WS /ws/sessions/{id}?after=SEQ`` — a session's events, resumable
  (:mod:`dyadscope.service.routes_ws`).
* ``GET /api/audit?session=ID&last=N`` — the audit trail (:mod:`dyadscope.service.audit`).
* ``GET /api/kinds`` — the codebook of event kinds (:mod:`dyadscope.service.routes_kinds`).
* ``POST /api/sessions/{id}/webrtc/offer`` and ``GET /capture`` — cameras and
  microphones (see :mod:`dyadscope.service.routes_webrtc`).
* ``/`` (the therapist's monitor), ``/rig`` (the research assistant's
  controls) and ``/static``.
* ``GET /ca.pem`` — the local CA of ``dyadscope tls init``, for tablets to trust.

Every API call and websocket needs the service's access token
(:mod:`dyadscope.service.auth`); host, origin, token and body limits are
checked before the app reads a request (:mod:`dyadscope.service.request_guard`). The routes find the configuration, the
sessions and the WebRTC hub in ``app.state`` (``config``, ``manager``,
``webrtc``).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from dyadscope.models.engine import ModelEngine
from dyadscope.service import routes_login, routes_sessions, routes_ws
from dyadscope.service.audit import FILENAME as AUDIT_FILENAME
from dyadscope.service.audit import AuditLog
from dyadscope.service.auth import audit
from dyadscope.service.config import Config
from dyadscope.service.event_feed import EventFeeds
from dyadscope.service.request_guard import RequestGuard
from dyadscope.service.routes_kinds import kinds_router
from dyadscope.service.routes_sessions import permitted, session_for
from dyadscope.service.routes_webrtc import WebRtcHub, create_webrtc_router
from dyadscope.service.sessions import SessionManager
from dyadscope.service.tls import CA_CERT, tls_dir
from dyadscope.service.users import FILENAME as USERS_FILENAME
from dyadscope.service.users import UserStore
from dyadscope.service.web_sessions import WebSessions

STATIC_DIR = files("dyadscope.client") / "static"


def create_app(config: Config, manager: SessionManager) -> FastAPI:
    """The service's ASGI app; ``manager`` owns the sessions and their bus."""

    webrtc = WebRtcHub(
        lambda session_id: (s := manager.get(session_id)) and s.publish,
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
    app.add_api_route("/api/health", health, methods=["GET"])
    app.add_api_route("/api/audit", audit_entries, methods=["GET"], dependencies=[Depends(permitted("audit.view"))])
    app.include_router(routes_sessions.router)
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
    app.add_api_route("/", monitor_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/rig", rig_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/login", login_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/ca.pem", ca_certificate, methods=["GET"], include_in_schema=False)
    app.add_middleware(RequestGuard, config=config, hsts=config.tls)
    return app


async def health(request: Request) -> dict[str, Any]:
    """Liveness and the number of running sessions; needs no token."""
    return {"status": "ok", "sessions": len(request.app.state.manager.all())}


async def audit_entries(request: Request, session: str | None = None, last: int = 100) -> list[dict[str, Any]]:
    """The audit trail's last entries (of one session), oldest first: the admin's view."""
    if not 1 <= last <= 10_000:
        raise HTTPException(status_code=422, detail="last must be 1-10000")
    entries = request.app.state.audit.last(last, session)
    audit(request, "audit.view", session)
    return entries


async def ca_certificate(request: Request) -> FileResponse:
    """The local CA of ``dyadscope tls init``, for tablets to trust (public: a certificate, never its key)."""
    path = tls_dir(request.app.state.config.data_dir) / CA_CERT
    if not path.is_file():
        raise HTTPException(status_code=404, detail="no local CA: the certificate comes from the clinic's own PKI")
    return FileResponse(str(path), media_type="application/x-x509-ca-cert", filename="dyadscope-ca.pem")


async def monitor_page() -> FileResponse:
    """The therapist's monitor."""
    return FileResponse(str(STATIC_DIR / "monitor.html"))


async def login_page() -> FileResponse:
    """The login form (with accounts; see dyadscope users)."""
    return FileResponse(str(STATIC_DIR / "login.html"))


async def rig_page() -> FileResponse:
    """The research assistant's controls."""
    return FileResponse(str(STATIC_DIR / "rig.html"))
