"""The service's access token, on API calls and on websockets.

Every API call needs the token in an ``Authorization: Bearer`` header, unless
auth was disabled on a loopback host; never in a URL, where proxies and
browser history keep it. A websocket takes the header too or, from a browser
(which cannot set one), a first message ``{"type": "auth", "token": ...}``
within :data:`AUTH_TIMEOUT_S`. Pages of other origins are refused before
this, by :mod:`dyadscope.service.request_guard`.

The configuration is the app's (``app.state.config``, see
:func:`dyadscope.service.app.create_app`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from fastapi import HTTPException, Request, WebSocket, WebSocketDisconnect
from starlette.requests import HTTPConnection

from dyadscope.service.config import Config

#: How long a websocket client may take to send its auth message.
AUTH_TIMEOUT_S = 5.0


def token_ok(config: Config, presented: str | None) -> bool:
    """Whether ``presented`` is the service's token (always, with auth disabled); constant-time."""
    if not config.auth_enabled:
        return True
    return presented is not None and hmac.compare_digest(presented.encode(), config.token.encode())


def who(connection: HTTPConnection) -> str:
    """The name an access is audited under: the holder of the service's token (one token, one name)."""
    return "token" if connection.app.state.config.auth_enabled else "local (no auth)"


def audit(connection: HTTPConnection, action: str, session: str | None = None, **detail: Any) -> None:
    """Append an access to the service's audit trail (:mod:`dyadscope.service.audit`) as :func:`who` did it."""
    connection.app.state.audit.append(who(connection), action, session, **detail)


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def require_token(request: Request) -> None:
    """FastAPI dependency: 401 unless the request carries the token."""
    if not token_ok(request.app.state.config, bearer(request.headers.get("authorization"))):
        raise HTTPException(status_code=401, detail="missing or wrong access token")


async def websocket_token_ok(websocket: WebSocket, config: Config) -> bool:
    """Whether an accepted websocket presents the token, by header or by its first message."""
    presented = bearer(websocket.headers.get("authorization"))
    if presented is None and config.auth_enabled:
        presented = await _auth_message(websocket)
    return token_ok(config, presented)


async def _auth_message(websocket: WebSocket) -> str | None:
    """The token of a first ``{"type": "auth", "token": ...}`` message, if one comes in time."""
    try:
        message = json.loads(await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S))
    except (TimeoutError, ValueError, KeyError, WebSocketDisconnect, RuntimeError):
        return None
    if isinstance(message, dict) and message.get("type") == "auth" and isinstance(message.get("token"), str):
        return message["token"]
    return None
