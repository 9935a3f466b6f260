"""Who a request is: a logged-in browser, a user's API token, or the service's one shared token.

With accounts (:mod:`dyadscope.service.users`), a request authenticates by
the session cookie of a login (:mod:`dyadscope.service.web_sessions`) or by a
user's API token in an ``Authorization: Bearer`` header; the shared token is
then refused. With no accounts — the development mode, on loopback only — the
shared token (``config.token``) authenticates as an ``admin``, or anyone does
with auth disabled. Tokens are never taken from URLs, where proxies and
browser history keep them. A websocket takes the cookie or the header at its
handshake or, from a page that holds a token (browsers cannot set a header),
a first message ``{"type": "auth", "token": ...}`` within
:data:`AUTH_TIMEOUT_S`. Pages of other origins are refused before this, by
:mod:`dyadscope.service.request_guard`, which authenticates ``/api`` calls
before their body is read and leaves the :class:`Principal` in the request's
state. What a principal may do is :mod:`dyadscope.service.access`.

The app keeps ``config``, ``users``, ``web_sessions`` and ``audit`` in
``app.state`` (see :func:`dyadscope.service.app.create_app`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException, Request, WebSocket, WebSocketDisconnect
from starlette.datastructures import State
from starlette.requests import HTTPConnection, cookie_parser

from dyadscope.service.access import Principal
from dyadscope.service.web_sessions import COOKIE

#: How long a websocket client may take to send its auth message.
AUTH_TIMEOUT_S = 5.0
#: The principal of the shared token (and of everyone, with auth disabled).
SHARED_TOKEN = Principal("token", "admin")
NO_AUTH = Principal("local (no auth)", "admin")


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def principal_for_token(state: State, token: str | None) -> Principal | None:
    """Whom an API token (a user's, or the shared one in development mode) authenticates."""
    if state.users.any():
        user = state.users.user_for_token(token) if token else None
        return None if user is None else Principal(user.name, user.role)
    if not state.config.auth_enabled:
        return NO_AUTH
    if token is not None and hmac.compare_digest(token.encode(), state.config.token.encode()):
        return SHARED_TOKEN
    return None


def authenticate(state: State, headers: Mapping[str, str]) -> Principal | None:
    """Whom a request's cookie or ``Authorization`` header authenticates, or None."""
    if state.users.any():
        name = state.web_sessions.user(cookie_parser(headers.get("cookie", "")).get(COOKIE))
        user = state.users.get(name) if name else None  # removed since the login: out
        if user is not None:
            return Principal(user.name, user.role)
    return principal_for_token(state, bearer(headers.get("authorization")))


def authenticated(request: Request) -> Principal:
    """FastAPI dependency: the request's principal (left by the request guard), or 401."""
    principal = getattr(request.state, "principal", None) or authenticate(request.app.state, request.headers)
    if principal is None:
        raise HTTPException(status_code=401, detail="log in, or give a valid access token")
    request.state.principal = principal
    return principal


async def websocket_principal(websocket: WebSocket) -> Principal | None:
    """Whom an accepted websocket authenticates as, by its handshake or by its first message."""
    principal = authenticate(websocket.app.state, websocket.headers)
    if principal is None and "authorization" not in websocket.headers and websocket.app.state.config.auth_enabled:
        principal = principal_for_token(websocket.app.state, await _auth_message(websocket))
    websocket.state.principal = principal
    return principal


def who(connection: HTTPConnection) -> str:
    """The name an access is audited under."""
    principal = getattr(connection.state, "principal", None)
    return principal.name if principal is not None else "-"


def audit(connection: HTTPConnection, action: str, session: str | None = None, **detail: Any) -> None:
    """Append an access to the service's audit trail (:mod:`dyadscope.service.audit`) as :func:`who` did it."""
    connection.app.state.audit.append(who(connection), action, session, **detail)


async def _auth_message(websocket: WebSocket) -> str | None:
    """The token of a first ``{"type": "auth", "token": ...}`` message, if one comes in time."""
    try:
        message = json.loads(await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S))
    except (TimeoutError, ValueError, KeyError, WebSocketDisconnect, RuntimeError):
        return None
    if isinstance(message, dict) and message.get("type") == "auth" and isinstance(message.get("token"), str):
        return message["token"]
    return None
