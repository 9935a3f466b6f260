"""What every request passes before the app sees it: host, origin, token, body, headers.

An ASGI middleware, so that the checks run before FastAPI reads or parses
anything:

* **Host allow-list.** IP literals, ``localhost`` and the configuration's
  ``server_names`` only (400 otherwise), so a page served from a DNS name
  that an attacker re-points at the rig's address (DNS rebinding) is refused.
* **Origin allow-list.** A browser request (it carries ``Origin``) must come
  from the service's own pages or from one of ``allowed_origins`` (403; a
  websocket is closed with 4403, or 4400 for an unknown host).
* **Authentication first.** ``/api/*`` (but for :data:`OPEN_PATHS`) is
  refused with 401 before the body is read; the :class:`~dyadscope.service.access.Principal` found
  (:func:`dyadscope.service.auth.authenticate`) is left in the request's state.
* **Bounded bodies.** Larger than ``max_body_bytes`` (by ``Content-Length`` or
  as it streams): 413; not complete within ``body_timeout_s``: 408. A JSON
  body with ``NaN`` or ``Infinity`` (not JSON, though Python reads it): 400.
* **Security headers** on every response: a content security policy that
  allows this origin only and no framing, ``nosniff``, no referrer, and
  ``no-store`` for everything but the static assets.

Refusals are answered in JSON (``{"detail": ...}``) like the app's own errors.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from dyadscope.service.auth import authenticate
from dyadscope.service.config import Config

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: API paths that need no login: liveness, the codebook of event kinds, logging in.
OPEN_PATHS = frozenset({"/api/health", "/api/kinds", "/api/login"})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=()"),
]


class Refused(Exception):
    """A request refused before the app: its HTTP status and the reason."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


class RequestGuard:
    """ASGI middleware applying the checks of the module docstring for ``config``."""

    def __init__(self, app: ASGIApp, config: Config, hsts: bool = False):
        self.app, self.config = app, config
        self._headers = _SECURITY_HEADERS + ([(b"strict-transport-security", b"max-age=31536000")] if hsts else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        try:
            check_host(headers.get("host"), self.config.server_names)
            check_origin(headers.get("origin"), headers.get("host", ""), self.config.allowed_origins)
            if scope["type"] == "http":
                path = scope["path"]
                if path.startswith("/api/") and path not in OPEN_PATHS:
                    principal = authenticate(scope["app"].state, headers)
                    if principal is None:
                        raise Refused(401, "log in, or give a valid access token")
                    scope.setdefault("state", {})["principal"] = principal
                receive = await self._buffered_body(scope, headers, receive)
        except Refused as refusal:
            if scope["type"] == "websocket":  # accepted, then closed: a browser sees the code (4400, 4403)
                await receive()
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": 4000 + refusal.status, "reason": refusal.detail})
            else:
                await _refuse(send, refusal, self._headers)
            return
        await self.app(scope, receive, self._with_headers(scope, send))

    async def _buffered_body(self, scope: Scope, headers: dict[str, str], receive: Receive) -> Receive:
        """The whole body read (bounded in size and time) and checked; a ``receive`` that replays it."""
        limit = self.config.max_body_bytes
        length = headers.get("content-length")
        if length is not None and (not length.isascii() or not length.isdigit()):
            raise Refused(400, "Content-Length must be a number of bytes")
        if length is not None and int(length) > limit:
            raise Refused(413, f"request body larger than {limit} bytes")
        try:
            body = await asyncio.wait_for(_read_body(receive, limit), self.config.body_timeout_s)
        except TimeoutError:
            raise Refused(408, f"request body not received within {self.config.body_timeout_s:g} s") from None
        if body and "json" in headers.get("content-type", ""):
            check_strict_json(body)
        return _replay(body, receive)

    def _with_headers(self, scope: Scope, send: Send) -> Send:
        no_store = not scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = self._headers + ([(b"cache-control", b"no-store")] if no_store else [])
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        return send_with_headers


def check_host(host: str | None, server_names: tuple[str, ...]) -> None:
    """Refuse a ``Host`` header that is not an IP literal, localhost or a configured name."""
    if not host:
        raise Refused(400, "the request has no Host header")
    name = urlsplit("//" + host).hostname or ""
    if name == "localhost" or name in {n.lower() for n in server_names}:
        return
    try:
        ipaddress.ip_address(name)
    except ValueError:
        raise Refused(
            400, f"unknown host name {name!r}; add it to the service's server names (DYADSCOPE_SERVER_NAMES)"
        ) from None


def check_origin(origin: str | None, host: str, allowed: tuple[str, ...]) -> None:
    """Refuse a browser ``Origin`` that is neither this service nor an allowed origin."""
    if origin is None or origin.rstrip("/") in allowed:
        return
    if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
        raise Refused(403, "requests from pages of other sites are refused")


def _reject_constant(name: str) -> Any:
    raise Refused(400, f"{name} is not valid JSON; send a number or null")


def check_strict_json(body: bytes) -> None:
    """Refuse ``NaN``/``Infinity``; other malformed JSON is left to the app's 422."""
    try:
        json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "the client left before sending the body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _refuse(send: Send, refusal: Refused, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": refusal.detail}).encode()
    response_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"connection", b"close"),
        *headers,
    ]
    await send({"type": "http.response.start", "status": refusal.status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body})
