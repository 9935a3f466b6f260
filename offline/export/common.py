"""What every exporter needs from a recording: its events, labels, start time and column names."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from dyadscope.stream import kinds
from dyadscope.stream.kinds import MARKER
from dyadscope.xdf import schema
from dyadscope.xdf.reader import RecordedStream, Recording

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Wraps the items an exporter works through, e.g. ``tqdm``: ``progress(items, desc=...)``.
Progress = Callable[..., Iterable[T]]


def no_progress(items: Sequence[T], desc: str = "") -> Iterable[T]:
    """The default ``progress``: the items as they are."""
    return items


def slug(text: str) -> str:
    """Letters and digits only (BIDS labels, file and column names)."""
    return re.sub(r"[^A-Za-z0-9]+", "", text)


#: BIDS entities in a file name, as LabRecorder writes them: ``sub-P001_ses-S001_task-Default_run-001_eeg``.
_NAME_ENTITIES = {"subject": "sub", "session": "ses", "task": "task", "run": "run"}


def name_entities(stem: str) -> dict[str, str]:
    """The BIDS entities a file name carries (``sub-``, ``ses-``, ``task-``, ``run-``), by entity name."""
    found = {}
    for entity, key in _NAME_ENTITIES.items():
        match = re.search(rf"(?:^|_){key}-([A-Za-z0-9]+)(?=_|$)", stem)
        if match:
            found[entity] = match.group(1)
    return found


def labels(recording: Recording) -> dict[str, str]:
    """BIDS entities of the recording (subject, session, task, run): its metadata, else its file name.

    Files other tools wrote carry none in their header: LabRecorder's BIDS
    names (``sub-P001_ses-S001_task-Default_run-001_eeg.xdf``) give them;
    any other name gives the subject (its letters and digits), the task is
    ``unknown`` and session and run are left out.
    """
    meta, named = recording.metadata, name_entities(recording.path.stem)

    def entity(name: str) -> str:
        return slug(meta.get(name, "")) or named.get(name, "")

    return {
        "subject": entity("subject") or slug(recording.path.stem)[:32] or "unknown",
        "session": entity("session"),
        "task": entity("task") or "unknown",
        "run": entity("run"),
    }


def bids_stem(recording: Recording, subject: str | None = None) -> str:
    """``sub-<s>[_ses-<n>]_task-<t>[_run-<r>]`` for this recording (or for ``subject`` of it: one person's)."""
    entities = labels(recording)
    parts = [f"sub-{subject or entities['subject']}"]
    if entities["session"]:
        parts.append(f"ses-{entities['session']}")
    parts.append(f"task-{entities['task']}")
    if entities["run"]:
        parts.append(f"run-{entities['run']}")
    return "_".join(parts)


def start_time(recording: Recording) -> float:
    """The earliest timestamp of any stream (the recording's time zero)."""
    firsts = [float(s.timestamps[0]) for s in recording.streams if len(s)]
    return min(firsts, default=0.0)


def is_events(stream: RecordedStream) -> bool:
    """Whether this is our JSON event log."""
    return schema.is_event_log(stream.info)


def is_markers(stream: RecordedStream) -> bool:
    """Whether this is a marker stream (ours, or any other string stream that is not our event log)."""
    return stream.info.channel_format == "string" and not is_events(stream)


def is_derived(stream: RecordedStream) -> bool:
    """Whether this is one of our derived-measure streams (the event log holds the same, complete)."""
    return schema.is_derived(stream.info)


def events(recording: Recording) -> list[dict[str, Any]]:
    """The session's logged events (``Event.to_dict()`` form), in time order."""
    found = []
    for stream in recording.streams:
        if is_events(stream):
            for row in stream.values[:, 0]:
                try:
                    found.append(json.loads(row))
                except json.JSONDecodeError:
                    logger.warning("skipped an event that is not JSON in %s", recording.path)
    return sorted(found, key=lambda e: (e.get("t", 0.0), e.get("seq", 0)))


QUALITY_KINDS = (kinds.QUALITY, kinds.STREAM_QUALITY, kinds.STREAM_LOST)
_GOOD = {"ok", "good", None}


def is_quality_problem(event: dict[str, Any]) -> bool:
    """Whether a logged event is a signal-quality problem, by what its kind carries.

    A ``quality`` event says so in its ``status``; ``stream_quality`` (NaNs or an
    off-nominal rate began) and ``stream_lost`` carry no status: each is a problem.
    """
    if event["kind"] == kinds.QUALITY:
        return (event.get("data") or {}).get("status") not in _GOOD
    return event["kind"] in QUALITY_KINDS


def flag_row(event: dict[str, Any]) -> str | None:
    """The flag an event raises: ``dissonance`` (a dissonant segment), ``desync``, ``quality`` (a problem), or None."""
    if event["kind"] == kinds.DISSONANCE and (event.get("data") or {}).get("dissonant"):
        return "dissonance"
    if event["kind"] == kinds.DESYNC_FLAG:
        return "desync"
    return "quality" if is_quality_problem(event) else None


def markers(recording: Recording) -> list[tuple[float, str, str]]:
    """(time, text, stream name) for every marker of every marker stream, in time order."""
    found = []
    for stream in recording.streams:
        if is_markers(stream):
            found += [(float(t), str(row[0]), stream.info.name) for t, row in zip(stream.timestamps, stream.values)]
    return sorted(found)


def owner(stream: RecordedStream) -> str:
    """Whose stream it is, for column names: the role, else the stream's name."""
    return stream.info.role or slug(stream.info.name) or f"stream{stream.stream_id}"


def channel_columns(stream: RecordedStream, with_id: bool = False, with_owner: bool = True) -> list[str]:
    """One column name per channel: ``<role>_<modality>[_stream<id>][_<label>]``, the stream name when unassigned.

    ``with_id`` adds the XDF stream id, for streams that would otherwise share
    names in one table (see :func:`side_by_side_columns`); ``with_owner=False``
    leaves out the role, for a table of one person's streams. A channel
    without a label is named by its number, and so are all channels of a
    stream whose labels repeat, so every name is distinct.
    """
    base = slug(stream.info.modality) or "data"
    if with_owner:
        base = f"{owner(stream)}_{base}"
    if with_id:
        base += f"_stream{stream.stream_id}"
    count = stream.info.channel_count
    if count == 1:
        return [base]
    labels_ = stream.info.channel_labels
    names = [slug(labels_[i]) if i < len(labels_) and slug(labels_[i]) else str(i) for i in range(count)]
    if len(set(names)) < count:
        names = [str(i) for i in range(count)]
    return [f"{base}_{name}" for name in names]


def side_by_side_columns(streams: Sequence[RecordedStream], with_owner: bool = True) -> list[list[str]]:
    """Column names of streams placed in one table: :func:`channel_columns`, with the stream id for those that clash.

    Two streams of one role and modality (a backup sensor, a second lead)
    would otherwise get the same names and one would overwrite the other.
    """
    plain = [channel_columns(stream, with_owner=with_owner) for stream in streams]
    uses = Counter(name for names in plain for name in names)
    return [
        channel_columns(stream, with_id=True, with_owner=with_owner) if any(uses[name] > 1 for name in names) else names
        for stream, names in zip(streams, plain)
    ]


def unit(stream: RecordedStream, channel: int) -> str:
    """The channel's unit as the header gives it, else ``n/a``."""
    units = stream.info.units
    return units[channel] if channel < len(units) and units[channel] else "n/a"


def marker_events(recording: Recording, logged: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Every marker of the recording's marker streams as a ``marker`` event (role None), in time order.

    Markers already in ``logged`` (the event log: same text, same time) are
    left out, so a live session's markers come once. The event's ``stream``
    field names the marker stream.
    """
    known = {(round(float(e["t"]), 6), (e.get("data") or {}).get("text")) for e in logged if e.get("kind") == MARKER}
    return [
        {"kind": MARKER, "t": t, "role": None, "data": {"text": text, "stream": name}}
        for t, text, name in markers(recording)
        if (round(t, 6), text) not in known
    ]
