"""Who may do what: the roles' permissions, per action and per session.

A :class:`Principal` is whoever a request authenticated as: a user with
their role (:mod:`dyadscope.service.users`), or — with no accounts, on
loopback only — the holder of the service's one shared token, who may do
everything (the development mode ``dyadscope demo`` runs in).

=================  =====  =========  =========  ==========
action             admin  therapist  assistant  researcher
=================  =====  =========  =========  ==========
sessions.list      yes    own        yes        no
session.create     yes    no         yes        no
session.* control  yes    own        yes        no
events.read        yes    own        quality    no
audit.view         yes    no         no         no
models.metrics     yes    no         yes        no
recordings.read    yes    no         no         yes
metrics.read       yes    no         no         no
=================  =====  =========  =========  ==========

``session.*`` control includes enrolling voices (``speakers.enrol``).
"own": only sessions the therapist is assigned to (``therapists`` when the
session was created). "quality": an assistant's websocket carries what a rig
needs — streams, their quality, baseline phases (without resting values),
markers, recording — and no derived measure (:func:`visible_to`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dyadscope.stream import kinds

#: Actions on one session that change or show it (``session.*`` control above).
SESSION_ACTIONS = frozenset(
    {
        "session.view",
        "session.stop",
        "baseline.start",
        "marker.add",
        "recording.start",
        "recording.stop",
        "capture.start",
        "speakers.enrol",
    }
)

_ALL = frozenset({"admin", "therapist", "assistant"})
_RIG = frozenset({"admin", "assistant"})
_ROLES_FOR: dict[str, frozenset[str]] = {
    "sessions.list": _ALL,
    "session.create": _RIG,
    "events.read": _ALL,
    "audit.view": frozenset({"admin"}),
    "models.metrics": _RIG,
    "recordings.read": frozenset({"admin", "researcher"}),
    "metrics.read": frozenset({"admin"}),  # /metrics; Prometheus uses the config's metrics_token
    **{action: _ALL for action in SESSION_ACTIONS},
}

#: The event kinds an assistant's websocket carries: the rig's, no measures.
RIG_KINDS = frozenset(
    {
        kinds.QUALITY,
        kinds.BASELINE_START,
        kinds.BASELINE,
        kinds.MARKER,
        kinds.PROCESSING_ERROR,
        kinds.RECORDING_STARTED,
        kinds.RECORDING_STOPPED,
        kinds.STREAM_FOUND,
        kinds.STREAM_RETURNED,
        kinds.STREAM_LOST,
        kinds.CLOCK_OFFSET,
        kinds.STREAM_UNASSIGNED,
        kinds.STREAM_INVALID,
        kinds.STREAM_QUALITY,
        kinds.STREAM_QUALITY_OK,
    }
)
#: Of a baseline event an assistant sees when it ran, not the resting values.
_BASELINE_RIG_FIELDS = ("start_t", "end_t", "breaths")


@dataclass(frozen=True)
class Principal:
    """Whoever a request authenticated as."""

    name: str
    role: str


def allowed(principal: Principal, action: str, therapists: tuple[str, ...] = ()) -> bool:
    """Whether ``principal`` may do ``action`` (on a session assigned to ``therapists``)."""
    if principal.role not in _ROLES_FOR.get(action, frozenset()):
        return False
    if principal.role == "therapist" and action != "sessions.list":
        return principal.name in therapists
    return True


def visible_to(principal: Principal, event: dict[str, Any]) -> dict[str, Any] | None:
    """The event as ``principal`` may see it on a websocket, or None (not for them)."""
    if principal.role != "assistant":
        return event
    if event["kind"] not in RIG_KINDS:
        return None
    if event["kind"] == kinds.BASELINE:
        return {**event, "data": {k: event["data"].get(k) for k in _BASELINE_RIG_FIELDS}}
    return event
