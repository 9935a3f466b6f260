"""Which streams a session takes, and which it needs: decided on a stream's short header.

A :class:`StreamSelection` is what a session owns on a network where other
rooms' sensors are visible too. It is checked on the fields an LSL resolver
gives without opening an inlet (name, type, source_id, hostname), so streams
it does not take are never opened.

* ``streams`` — patterns, each ``name:GLOB``, ``source_id:GLOB``,
  ``host:GLOB`` or ``type:GLOB``, or a bare ``GLOB`` that may match the
  name or the source_id (shell-style: ``*``, ``?``, ``[...]``; case-sensitive).
  A stream is taken when any pattern matches; no patterns: every stream.
* ``assign`` — assignments ``"STREAM=role:modality"``
  (:mod:`dyadscope.stream.assign`); each stream they name is taken too.
* ``required`` — ``"role:modality"`` slots the rig page shows red while no
  stream fills them.

A rig profile (``<data_dir>/rigs/NAME.json``) is such a selection saved
under a name: ``{"streams": [...], "assign": [...], "required": [...]}``.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dyadscope.stream.assign import AssignmentError, normalize_modality, parse_overrides
from dyadscope.stream.types import ROLES

#: The short-header fields a pattern may name, and the aliases it may use for them.
FIELDS = {"name": "name", "source_id": "source_id", "host": "hostname", "hostname": "hostname", "type": "type"}
_MAX_ITEMS = 64
_MAX_TEXT = 200


class SelectionError(ValueError):
    """A selection that cannot be understood (bad pattern, bad slot, too many)."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """One pattern: ``field`` None matches the name or the source_id."""

    field: str | None
    glob: str

    def matches(self, short: Mapping[str, str]) -> bool:
        """Whether ``short`` (name, type, source_id, hostname) matches."""
        fields = ("name", "source_id") if self.field is None else (self.field,)
        return any(fnmatch.fnmatchcase(short.get(f, "") or "", self.glob) for f in fields)


def parse_pattern(text: str) -> Pattern:
    """``"host:lab-2"`` → Pattern("hostname", "lab-2"); a bare text matches name or source_id."""
    text = text.strip()
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in FIELDS:
        field, glob = FIELDS[prefix.lower()], rest.strip()
    else:
        field, glob = None, text
    if not glob or len(glob) > _MAX_TEXT:
        raise SelectionError(f"stream pattern {text[:40]!r} is empty or longer than {_MAX_TEXT} characters")
    return Pattern(field, glob)


def parse_slot(text: str) -> tuple[str, str]:
    """``"patient:ECG"`` → ("patient", "ECG"): a required person and modality."""
    role, sep, modality = text.strip().partition(":")
    normalized = normalize_modality(modality)
    if not sep or role.lower() not in ROLES or normalized is None:
        raise SelectionError(f"required stream {text[:40]!r} is not of the form 'role:modality' (e.g. patient:ECG)")
    return role.lower(), normalized


def _texts(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise SelectionError(f"{what} must be a list of strings")
    items = tuple(value)
    if len(items) > _MAX_ITEMS or not all(isinstance(i, str) and len(i) <= _MAX_TEXT for i in items):
        raise SelectionError(f"{what}: at most {_MAX_ITEMS} strings of at most {_MAX_TEXT} characters")
    return items


@dataclass(frozen=True)
class StreamSelection:
    """What a session takes (``streams`` patterns, ``assign``) and needs (``required``); see the module."""

    streams: tuple[str, ...] = ()
    assign: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_patterns", tuple(parse_pattern(p) for p in self.streams))
        try:
            object.__setattr__(self, "_named", {o.stream for o in parse_overrides(self.assign)})
        except AssignmentError as exc:
            raise SelectionError(str(exc)) from None
        for slot in self.required:
            parse_slot(slot)

    @classmethod
    def from_json(cls, data: Any) -> StreamSelection:
        """A selection from its JSON shape (a rig profile, an API body); :class:`SelectionError` if malformed."""
        if not isinstance(data, Mapping):
            raise SelectionError("a rig profile is a JSON object with streams, assign and required")
        unknown = set(data) - {"streams", "assign", "required"}
        if unknown:
            raise SelectionError(f"unknown rig profile field(s): {', '.join(sorted(unknown))[:80]}")
        return cls(*(_texts(data.get(k), k) for k in ("streams", "assign", "required")))

    def to_json(self) -> dict[str, list[str]]:
        return {"streams": list(self.streams), "assign": list(self.assign), "required": list(self.required)}

    @property
    def everything(self) -> bool:
        """Whether it takes every stream (no patterns, no assignments)."""
        return not self.streams and not self.assign

    def takes(self, short: Mapping[str, str]) -> bool:
        """Whether the stream with this short header (name, type, source_id, hostname) is taken."""
        if self.everything:
            return True
        if short.get("name") in self._named or short.get("source_id") in self._named:
            return True
        return any(p.matches(short) for p in self._patterns)

    def merged(self, other: StreamSelection) -> StreamSelection:
        """This selection with ``other``'s entries added (a profile plus a request's own)."""
        return StreamSelection(
            *(tuple(dict.fromkeys((*getattr(self, k), *getattr(other, k)))) for k in ("streams", "assign", "required"))
        )


class StreamClaims:
    """Which session has taken which stream (by key: source_id, else name), so that no two take the same one.

    Thread-safe: the ingests' discovery threads claim, sessions release when they stop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: dict[str, str] = {}

    def claim(self, key: str, owner: str) -> str:
        """Claim ``key`` for ``owner`` if nobody holds it; the owner it has now."""
        with self._lock:
            return self._owner.setdefault(key, owner)

    def release(self, key: str, owner: str) -> None:
        """Give ``key`` back (only its owner can)."""
        with self._lock:
            if self._owner.get(key) == owner:
                del self._owner[key]

    def release_all(self, owner: str) -> None:
        """Give back every stream ``owner`` holds."""
        with self._lock:
            self._owner = {k: o for k, o in self._owner.items() if o != owner}

    def owner(self, key: str) -> str | None:
        """Who holds ``key`` (None: nobody)."""
        with self._lock:
            return self._owner.get(key)
