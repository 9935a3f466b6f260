"""People who use the service: accounts with a role, hashed passwords, and per-user API tokens.

Kept in ``<data_dir>/users.json`` (0600), edited by ``dyadscope users`` and
re-read by a running service whenever the file changes, so a removed user or
a revoked token stops working at once. Passwords are hashed with Argon2id
(``argon2-cffi``, its default parameters: RFC 9106's low-memory profile);
API tokens are random (32 bytes) and only their SHA-256 is stored, with an
expiry. Names are 1-64 letters, digits, ``.``, ``_`` or ``-``.

Roles (what each may do is :mod:`dyadscope.service.access`): ``admin``
(users, audit), ``therapist`` (the sessions assigned to them), ``assistant``
(runs rigs: sessions, baseline, markers, recording, capture; sees stream
quality, not measures), ``researcher`` (recordings, offline).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dyadscope.stream.private_files import write_private

FILENAME = "users.json"
ROLES = ("admin", "therapist", "assistant", "researcher")
MIN_PASSWORD_LENGTH = 12
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")  # verified against for unknown names: same time


class UserError(ValueError):
    """A user change that cannot be made, and why."""


@dataclass(frozen=True)
class User:
    """Someone the service knows: a name and a role."""

    name: str
    role: str


class UserStore:
    """The accounts file; every method re-reads it if it changed, writes replace it atomically."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._data: dict[str, Any] = {"users": {}, "tokens": {}}

    # -- reading ------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._data = None, {"users": {}, "tokens": {}}
            return self._data
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._data = json.loads(self.path.read_text(encoding="utf-8"))
            self._stamp = stamp
        return self._data

    def any(self) -> bool:
        """Whether any account exists (if not, the service runs on its one shared token)."""
        with self._lock:
            return bool(self._load()["users"])

    def all(self) -> list[User]:
        with self._lock:
            return [User(name, entry["role"]) for name, entry in sorted(self._load()["users"].items())]

    def get(self, name: str) -> User | None:
        with self._lock:
            entry = self._load()["users"].get(name)
        return None if entry is None else User(name, entry["role"])

    def authenticate(self, name: str, password: str) -> User | None:
        """The user, if ``password`` is theirs (an unknown name takes as long as a wrong password)."""
        with self._lock:
            entry = self._load()["users"].get(name)
        try:
            _hasher.verify(entry["password"] if entry else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return None if entry is None else User(name, entry["role"])

    def user_for_token(self, token: str) -> User | None:
        """The owner of an unexpired API token."""
        digest = _token_digest(token)
        with self._lock:
            data = self._load()
            for stored, entry in data["tokens"].items():
                if hmac.compare_digest(stored, digest):
                    if dt.datetime.fromisoformat(entry["expires"]) <= _now():
                        return None
                    user = data["users"].get(entry["user"])
                    return None if user is None else User(entry["user"], user["role"])
        return None

    # -- changes (the CLI) ----------------------------------------------------

    def add(self, name: str, role: str, password: str) -> User:
        if not NAME.fullmatch(name):
            raise UserError("a user name is 1-64 letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        _check_password(password)
        with self._lock:
            data = self._load()
            if name in data["users"]:
                raise UserError(f"user {name!r} exists; use 'dyadscope users passwd' to change the password")
            data["users"][name] = {"role": role, "password": _hasher.hash(password)}
            self._save(data)
        return User(name, role)

    def set_password(self, name: str, password: str) -> None:
        _check_password(password)
        with self._lock:
            data = self._load()
            self._require(data, name)["password"] = _hasher.hash(password)
            self._save(data)

    def remove(self, name: str) -> None:
        """Remove the account and every token of it."""
        with self._lock:
            data = self._load()
            self._require(data, name)
            del data["users"][name]
            data["tokens"] = {k: v for k, v in data["tokens"].items() if v["user"] != name}
            self._save(data)

    def issue_token(self, name: str, days: float) -> tuple[str, dt.datetime]:
        """A new API token for ``name``, valid ``days``; the token is shown once and only its hash is kept."""
        if not 0 < days <= 366:
            raise UserError("a token is valid for more than 0 and at most 366 days")
        token = "dys_" + secrets.token_urlsafe(32)
        expires = _now() + dt.timedelta(days=days)
        with self._lock:
            data = self._load()
            self._require(data, name)
            data["tokens"][_token_digest(token)] = {"user": name, "expires": expires.isoformat()}
            self._save(data)
        return token, expires

    def revoke_tokens(self, name: str) -> int:
        """Revoke every API token of ``name``; how many there were."""
        with self._lock:
            data = self._load()
            self._require(data, name)
            kept = {k: v for k, v in data["tokens"].items() if v["user"] != name}
            revoked = len(data["tokens"]) - len(kept)
            data["tokens"] = kept
            self._save(data)
        return revoked

    @staticmethod
    def _require(data: dict[str, Any], name: str) -> dict[str, Any]:
        if name not in data["users"]:
            raise UserError(f"no user {name!r}")
        return data["users"][name]

    def _save(self, data: dict[str, Any]) -> None:
        write_private(self.path, json.dumps(data, indent=1).encode())
        self._stamp = None  # re-read on next use


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs {MIN_PASSWORD_LENGTH} characters or more")


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
