"""``summary.json``: a session per person and per dyad, from its event log, as ``analyze`` and ``export`` write it.

Per person (``people.<role>``): the resting values of the baseline, the
in-session means after it (good-quality values only; the whole recording
when there was no baseline), reactivity (session minus resting) -- computed
by the very :class:`~dyadscope.stream.processors.physio.history.SessionSummary`
a live session keeps for the history -- and the person's flags (dissonant
speech segments). Per dyad (``dyad``): per modality, the synchrony index
against the session's pseudo-pairs, the share of windows above chance and
the mean |r| (the latest ``sync_index`` and all ``sync`` events), the
flexibility over the session, EDA concordance, and the desynchrony flags.
``units`` gives the unit of every measure, from the codebook; ``events``
counts the events per kind.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dyadscope.stream import kinds
from dyadscope.stream.processors.physio.history import SessionSummary
from dyadscope.stream.types import ROLES, Feature

#: The per-person measures (the baseline's fields; session values share their names and units).
MEASURES = ("rsa_p2t_ms", "rsa_spectral_ln", "heart_rate_bpm", "eda_tonic_us", "scr_per_min")
_SYNC_INDEX = ("index_z", "mean_z", "share_above_chance", "windows")
_FLEXIBILITY = ("sd_z_session", "transitions_per_min_session")


def _in_log_order(logged: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Events in the order they were emitted (``seq``), which the session summary expects."""
    rows = list(logged)
    return sorted(rows, key=lambda e: e.get("seq") or 0) if all(e.get("seq") for e in rows) else rows


def _person(summary: SessionSummary, role: str, logged: list[Mapping[str, Any]]) -> dict[str, Any]:
    values = summary.summary(role)
    resting = {m: values[f"resting_{m}"] for m in MEASURES}
    session = {m: values[f"session_{m}"] for m in MEASURES}
    reactivity = {m: None if None in (session[m], resting[m]) else session[m] - resting[m] for m in MEASURES}
    dissonant = sum(
        e["kind"] == kinds.DISSONANCE and bool(e["data"].get("dissonant")) for e in logged if e.get("role") == role
    )
    return {"resting": resting, "session": session, "reactivity": reactivity, "flags": {"dissonance": dissonant}}


def _dyad(logged: list[Mapping[str, Any]]) -> dict[str, Any]:
    synchrony: dict[str, dict[str, Any]] = {}
    concordance = None
    for e in logged:
        data = e.get("data") or {}
        kind, modality = e["kind"], data.get("modality")
        if kind == kinds.SYNC:
            entry = synchrony.setdefault(modality, {})
            entry["_sum"], entry["_n"] = entry.get("_sum", 0.0) + data["abs_r"], entry.get("_n", 0) + 1
        elif kind == kinds.SYNC_INDEX:
            synchrony.setdefault(modality, {}).update({k: data.get(k) for k in _SYNC_INDEX})
        elif kind == kinds.SYNC_FLEXIBILITY:
            synchrony.setdefault(modality, {}).update({k: data.get(k) for k in _FLEXIBILITY})
        elif kind == kinds.CONCORDANCE:
            concordance = data.get("ci_session")
    for entry in synchrony.values():
        n = entry.pop("_n", 0)
        entry["mean_abs_r"] = entry.pop("_sum") / n if n else None
    flags = sum(e["kind"] == kinds.DESYNC_FLAG for e in logged)
    return {"synchrony": dict(sorted(synchrony.items())), "eda_concordance_ci": concordance, "flags": {"desync": flags}}


def _units() -> dict[str, str | None]:
    units = {m: kinds.unit(kinds.BASELINE, m) for m in MEASURES}
    units.update({k: kinds.unit(kinds.SYNC_INDEX, k) for k in _SYNC_INDEX})
    units.update({k: kinds.unit(kinds.SYNC_FLEXIBILITY, k) for k in _FLEXIBILITY})
    return {**units, "mean_abs_r": kinds.unit(kinds.SYNC, "abs_r"), "eda_concordance_ci": "1"}


def session_summary(logged: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``people``, ``dyad``, ``units`` and ``events`` (counts per kind) from events in ``Event.to_dict()`` form."""
    rows = _in_log_order(logged)
    summary = SessionSummary()
    for e in rows:
        if e["kind"] in summary.consumes:
            summary.consume(Feature(e["kind"], e.get("role"), float(e["t"]), dict(e.get("data") or {})))
    present = {e.get("role") for e in rows}
    people = {role: _person(summary, role, rows) for role in ROLES if role in present}
    counts = Counter(e["kind"] for e in rows)
    return {"people": people, "dyad": _dyad(rows), "units": _units(), "events": dict(sorted(counts.items()))}


def write_summary(out: Path, logged: Iterable[Mapping[str, Any]], **fields: Any) -> Path:
    """``out/summary.json``: ``fields`` (streams, tables, notes ...) then :func:`session_summary`."""
    path = out / "summary.json"
    path.write_text(json.dumps({**fields, **session_summary(logged)}, indent=2, default=_plain) + "\n")
    return path


def _plain(value: Any) -> Any:
    """numpy numbers and tuples as JSON takes them."""
    return value.item() if hasattr(value, "item") else list(value)
