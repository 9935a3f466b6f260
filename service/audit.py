"""The audit trail: who did what to which session, when — hash-chained, so tampering shows.

One JSON line per access (HIPAA §164.312(b)), appended to
``<data_dir>/audit.jsonl`` (0600):

``{"seq": 7, "time": "2026-12-04T15:02:11.183Z", "user": "token", "action": "events.read",
"session": "s02", "detail": {...}, "prev": "<hash of line 6>", "hash": "<hash of this line>"}``

``hash`` is the SHA-256 of the line's canonical JSON without ``hash`` (keys
sorted, no spaces); each line names the one before it in ``prev`` (the first
names :data:`GENESIS`). Editing, removing or reordering a line breaks the
chain from there on, which :func:`verify` reports; so does removing the
last lines, when a copy of the last hash has been kept elsewhere
(``dyadscope audit verify --last-hash``). Entries hold names, actions and
session ids — never sample values, tokens or participant ids (``detail``
keys are checked against :data:`DETAIL_KEYS`).

Each entry is written and flushed to the OS before the request it records is
answered; a write that fails is an error of that request, never a silent gap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dyadscope.stream.private_files import FILE_MODE, private_dir

FILENAME = "audit.jsonl"
GENESIS = "0" * 64
#: The only keys an entry's ``detail`` may carry: nothing identifying, no values.
DETAIL_KEYS = frozenset({"after", "role", "status", "kinds", "reason", "target_user", "target_role", "file"})


def _digest(entry: dict[str, Any]) -> str:
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditLog:
    """Append-only, hash-chained audit file; safe to call from any thread."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        private_dir(path.parent)
        self._seq, self._last = _tail(path)

    def append(self, user: str, action: str, session: str | None = None, **detail: Any) -> dict[str, Any]:
        """Record one access; the entry as written."""
        unknown = set(detail) - DETAIL_KEYS
        if unknown:
            raise ValueError(f"audit detail keys {sorted(unknown)} are not allowed (see DETAIL_KEYS)")
        with self._lock:
            entry = {
                "seq": self._seq + 1,
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "user": user,
                "action": action,
                "session": session,
                "detail": detail,
                "prev": self._last,
            }
            entry["hash"] = _digest(entry)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._seq, self._last = entry["seq"], entry["hash"]
        return entry

    def last(self, n: int, session: str | None = None) -> list[dict[str, Any]]:
        """The last ``n`` entries (of one session, if given), oldest first; reads the file, memory bounded by ``n``."""
        kept: deque[dict[str, Any]] = deque(maxlen=n)
        if self.path.exists():
            with self.path.open(encoding="utf-8") as lines:
                for line in lines:
                    entry = json.loads(line)
                    if session is None or entry.get("session") == session:
                        kept.append(entry)
        return list(kept)


def _tail(path: Path) -> tuple[int, str]:
    """The last entry's ``seq`` and ``hash`` (0 and :data:`GENESIS` for a new file)."""
    if not path.exists() or path.stat().st_size == 0:
        return 0, GENESIS
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - 65536))
        last = f.read().splitlines()[-1]
    entry = json.loads(last)
    return int(entry["seq"]), str(entry["hash"])


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found."""

    ok: bool
    entries: int
    last_hash: str
    problem: str = ""


def verify(path: Path, last_hash: str | None = None) -> Verdict:
    """Check every line's hash and its link to the one before (and, if given, the final hash)."""
    prev, seq = GENESIS, 0
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
                claimed = entry.pop("hash")
            except (ValueError, KeyError, AttributeError):
                return Verdict(False, seq, prev, f"line {number} is not an audit entry")
            if entry.get("prev") != prev or entry.get("seq") != seq + 1:
                return Verdict(
                    False, seq, prev, f"line {number} does not follow line {number - 1} (removed or reordered)"
                )
            if _digest(entry) != claimed:
                return Verdict(False, seq, prev, f"line {number} was changed after it was written")
            prev, seq = claimed, seq + 1
    if last_hash is not None and last_hash != prev:
        return Verdict(False, seq, prev, "the log ends before the kept last hash (entries removed from its end)")
    return Verdict(True, seq, prev)
