"""Logged-in browsers: short-lived, revocable session cookies, and a lock after repeated wrong passwords.

A login gives the browser a random id in an ``HttpOnly``, ``SameSite=Strict``
cookie (``Secure`` on TLS). The id maps, in this process's memory, to the
user; it ends after :attr:`WebSessions.idle_s` without a request (automatic
log-off, HIPAA §164.312(a)(2)(iii)), after :attr:`WebSessions.lifetime_s` in
all, at logout, or when the service restarts. Memory is bounded: at most
:attr:`WebSessions.max_sessions` at once, the least recently used dropped.

Five wrong passwords for one name within :data:`LOCK_WINDOW_S` lock that name
for :data:`LOCK_WINDOW_S` (ASVS V2.2.1), whoever tries.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "dyadscope_session"
LOCK_AFTER = 5
LOCK_WINDOW_S = 900.0
_MAX_TRACKED_NAMES = 10_000


@dataclass
class _Login:
    user: str
    started: float
    last_used: float


class WebSessions:
    """The logged-in browsers of this process (see the module docstring)."""

    def __init__(
        self,
        idle_s: float = 900.0,
        lifetime_s: float = 12 * 3600.0,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.idle_s, self.lifetime_s, self.max_sessions = idle_s, lifetime_s, max_sessions
        self._clock = clock
        self._logins: OrderedDict[str, _Login] = OrderedDict()
        self._failures: OrderedDict[str, list[float]] = OrderedDict()

    def create(self, user: str) -> str:
        """A new login for ``user``; its cookie value."""
        sid = secrets.token_urlsafe(32)
        now = self._clock()
        self._logins[sid] = _Login(user, now, now)
        while len(self._logins) > self.max_sessions:
            self._logins.popitem(last=False)
        return sid

    def user(self, sid: str | None) -> str | None:
        """The user a cookie value is logged in as (and it counts as activity), or None."""
        login = self._logins.get(sid) if sid else None
        if login is None:
            return None
        now = self._clock()
        if now - login.last_used > self.idle_s or now - login.started > self.lifetime_s:
            del self._logins[sid]
            return None
        login.last_used = now
        self._logins.move_to_end(sid)
        return login.user

    def end(self, sid: str | None) -> None:
        """Log out."""
        if sid:
            self._logins.pop(sid, None)

    def locked(self, name: str) -> bool:
        """Whether ``name`` is locked after too many wrong passwords."""
        now = self._clock()
        recent = [t for t in self._failures.get(name, []) if now - t < LOCK_WINDOW_S]
        return len(recent) >= LOCK_AFTER

    def failed(self, name: str) -> None:
        """Count a wrong password for ``name``."""
        now = self._clock()
        self._failures[name] = [t for t in self._failures.get(name, []) if now - t < LOCK_WINDOW_S] + [now]
        self._failures.move_to_end(name)
        while len(self._failures) > _MAX_TRACKED_NAMES:
            self._failures.popitem(last=False)

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)
