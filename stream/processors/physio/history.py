"""Within-person history: state against trait.

Each session leaves one summary per participant -- resting and in-session
RSA, heart rate, EDA level and SCR rate -- in a small SQLite database in the
data directory (``history.sqlite3``). A live value can then be read against
that person's own mean over their past sessions, in their own standard
deviations (``z``), once there are at least :data:`MIN_SESSIONS` of them: so
feedback can say "lower than usual for this patient", not just "low".

Only pseudonymous ids are stored: participant and session ids must match
``[A-Za-z0-9_-]{1,64}`` (no spaces, dots or ``@``, so no names or e-mail
addresses), and nothing else about the person is kept.

* :class:`History` -- the store (I/O; the service owns it, never a processor);
* :class:`SessionSummary` -- a feature processor that builds a session's
  summary per person from the live features;
* :class:`DeviationProcessor` -- a feature processor that, given each
  person's norms (read once from the store before the session), turns live
  values into ``Feature("deviation", role, t, {"measure", "value", "mean",
  "sd", "z", "n"})`` at most once per ``hop_s`` per measure.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dyadscope.stream import kinds
from dyadscope.stream.private_files import private_dir, private_file
from dyadscope.stream.processors.ticks import Ticker
from dyadscope.stream.types import Feature, Role

#: The measures of a session summary.
MEASURES = (
    "resting_rsa_p2t_ms",
    "resting_rsa_spectral_ln",
    "resting_heart_rate_bpm",
    "resting_eda_tonic_us",
    "resting_scr_per_min",
    "session_rsa_p2t_ms",
    "session_rsa_spectral_ln",
    "session_heart_rate_bpm",
    "session_eda_tonic_us",
    "session_scr_per_min",
)
#: Past sessions needed before a deviation is given.
MIN_SESSIONS = 3
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: (live feature kind, data field) -> the in-session measure it is a live value of.
LIVE_MEASURES = {
    (kinds.RSA, "p2t_mean_ms"): "session_rsa_p2t_ms",
    (kinds.RSA, "spectral_ln"): "session_rsa_spectral_ln",
    (kinds.HEART_RATE, "bpm"): "session_heart_rate_bpm",
    (kinds.EDA, "tonic_us"): "session_eda_tonic_us",
    (kinds.SCR_RATE, "per_min"): "session_scr_per_min",
}
#: baseline feature field -> resting measure.
_RESTING = {
    "rsa_p2t_ms": "resting_rsa_p2t_ms",
    "rsa_spectral_ln": "resting_rsa_spectral_ln",
    "heart_rate_bpm": "resting_heart_rate_bpm",
    "eda_tonic_us": "resting_eda_tonic_us",
    "scr_per_min": "resting_scr_per_min",
}


def check_id(value: str, what: str = "participant id") -> str:
    """``value`` if it is a pseudonymous id (``[A-Za-z0-9_-]``, 1-64 characters), else ValueError."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{what} must be 1-64 letters, digits, '_' or '-' (a pseudonym, never a name)")
    return value


@dataclass(frozen=True, slots=True)
class Norm:
    """A person's mean and standard deviation of one measure over ``n`` past sessions."""

    mean: float
    sd: float
    n: int

    def z(self, value: float) -> float | None:
        """``value`` in this person's own SD units from their mean (None if too few sessions or no spread)."""
        if self.n < MIN_SESSIONS or not self.sd > 0:
            return None
        return (value - self.mean) / self.sd


class History:
    """Session summaries per pseudonymous participant, in ``DATA_DIR/history.sqlite3``."""

    FILENAME = "history.sqlite3"

    def __init__(self, data_dir: Path | str):
        path = Path(data_dir)
        self.path = private_file(private_dir(path) / self.FILENAME)
        self._db = sqlite3.connect(self.path)  # its journal takes the file's 0600
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS summaries ("
                " participant TEXT NOT NULL, session TEXT NOT NULL,"
                " measure TEXT NOT NULL, value REAL,"
                " PRIMARY KEY (participant, session, measure))"
            )

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, participant: str, session: str, summary: Mapping[str, float | None]) -> None:
        """Store (or replace) one session's summary of one participant."""
        check_id(participant)
        check_id(session, "session id")
        unknown = set(summary) - set(MEASURES)
        if unknown:
            raise ValueError(f"unknown measures {sorted(unknown)}; known: {MEASURES}")
        rows = [
            (participant, session, m, None if v is None or not math.isfinite(v) else float(v))
            for m, v in summary.items()
        ]
        with self._db:
            self._db.execute("DELETE FROM summaries WHERE participant = ? AND session = ?", (participant, session))
            self._db.executemany("INSERT INTO summaries VALUES (?, ?, ?, ?)", rows)

    def sessions(self, participant: str) -> dict[str, dict[str, float | None]]:
        """Every stored summary of a participant, by session id."""
        check_id(participant)
        out: dict[str, dict[str, float | None]] = {}
        for session, measure, value in self._db.execute(
            "SELECT session, measure, value FROM summaries WHERE participant = ? ORDER BY rowid", (participant,)
        ):
            out.setdefault(session, {})[measure] = value
        return out

    def norms(self, participant: str, *, exclude_session: str | None = None) -> dict[str, Norm]:
        """The participant's mean and SD (n - 1) of each measure over their past sessions."""
        check_id(participant)
        values: dict[str, list[float]] = {}
        for session, summary in self.sessions(participant).items():
            if session == exclude_session:
                continue
            for measure, value in summary.items():
                if value is not None:
                    values.setdefault(measure, []).append(value)
        out = {}
        for measure, vs in values.items():
            mean = sum(vs) / len(vs)
            sd = math.sqrt(sum((v - mean) ** 2 for v in vs) / (len(vs) - 1)) if len(vs) > 1 else 0.0
            out[measure] = Norm(mean, sd, len(vs))
        return out


#: How far back (data seconds) the summary keeps values until the baseline's end is known.
RECENT_S = 30.0


class SessionSummary:
    """Builds each person's session summary from the live features.

    In-session means use the good-quality features at or after the baseline's
    end (all of them if there was no baseline); resting values come from the
    ``baseline`` feature. That feature follows the first feature at or after
    the end, so the last :data:`RECENT_S` seconds of values are kept to count
    those that came before it.
    """

    consumes = frozenset({kinds.RSA, kinds.HEART_RATE, kinds.EDA, kinds.SCR_RATE, kinds.BASELINE})

    def __init__(self) -> None:
        self._sums: dict[tuple[Role | None, str], tuple[float, int]] = {}
        self._recent: dict[Role | None, deque[tuple[float, str, float]]] = {}
        self._resting: dict[Role | None, dict[str, float | None]] = {}
        self._baseline_end: dict[Role | None, float] = {}

    def consume(self, feature: Feature) -> list[Feature]:
        """Add a feature to its person's summary; emits nothing."""
        role, data = feature.role, feature.data
        if feature.kind == kinds.BASELINE:
            self._resting[role] = {measure: data.get(field) for field, measure in _RESTING.items()}
            end = self._baseline_end[role] = data["end_t"]
            self._sums = {k: v for k, v in self._sums.items() if k[0] != role}
            for t, measure, value in self._recent.pop(role, ()):
                if t >= end:
                    self._add(role, measure, value)
            return []
        if data.get("quality", "good") != "good" or feature.t < self._baseline_end.get(role, -math.inf):
            return []
        for (kind, field), measure in LIVE_MEASURES.items():
            value = data.get(field) if kind == feature.kind else None
            if value is not None:
                self._add(role, measure, value)
                if role not in self._baseline_end:
                    self._remember(role, feature.t, measure, value)
        return []

    def _add(self, role: Role | None, measure: str, value: float) -> None:
        total, n = self._sums.get((role, measure), (0.0, 0))
        self._sums[(role, measure)] = (total + value, n + 1)

    def _remember(self, role: Role | None, t: float, measure: str, value: float) -> None:
        recent = self._recent.setdefault(role, deque())
        recent.append((t, measure, value))
        while recent[0][0] < t - RECENT_S:
            recent.popleft()

    def summary(self, role: Role | None) -> dict[str, float | None]:
        """The person's summary so far, every measure of :data:`MEASURES` (None where unmeasured)."""
        out: dict[str, float | None] = dict.fromkeys(MEASURES)
        out.update(self._resting.get(role, {}))
        for (r, measure), (total, n) in self._sums.items():
            if r == role and n:
                out[measure] = total / n
        return out


@dataclass(frozen=True)
class DeviationConfig:
    """At most one deviation per measure and person every ``hop_s`` seconds of data."""

    hop_s: float = 1.0


class DeviationProcessor:
    """Live values as deviations from each person's own past sessions (state vs trait)."""

    consumes = frozenset(kind for kind, _ in LIVE_MEASURES)

    def __init__(self, norms: Mapping[Role, Mapping[str, Norm]], config: DeviationConfig = DeviationConfig()):
        self.norms = norms
        self.config = config
        self._tickers: dict[tuple[Role | None, str], Ticker] = {}

    def consume(self, feature: Feature) -> list[Feature]:
        """Turn the feature's live values into deviation features, where the person has a norm."""
        norms = self.norms.get(feature.role) if feature.role is not None else None
        if not norms:
            return []
        out = []
        for (kind, field), measure in LIVE_MEASURES.items():
            value = feature.data.get(field) if kind == feature.kind else None
            norm = norms.get(measure)
            ticker = self._tickers.setdefault((feature.role, measure), Ticker(self.config.hop_s))
            if value is None or norm is None or not ticker.ready(feature.t):
                continue
            z = norm.z(value)
            if z is None:
                continue
            ticker.advance(feature.t)
            out.append(
                Feature(
                    kinds.DEVIATION,
                    feature.role,
                    feature.t,
                    {"measure": measure, "value": value, "mean": norm.mean, "sd": norm.sd, "z": z, "n": norm.n},
                )
            )
        return out
