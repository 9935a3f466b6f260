"""What every exporter needs from a recording: its events, labels, start time and column names."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from ...sensors.xdf_file import RecordedStream, Recording
from ..recorder import EVENTS_STREAM, FEATURE_MODALITY

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


def labels(recording: Recording) -> dict[str, str]:
    """BIDS entities from the recording's metadata (subject, session, task, run).

    Files other tools wrote carry none: the subject is then taken from the
    file name, the task is ``unknown`` and session and run are left out.
    """
    meta = recording.metadata
    subject = slug(meta.get("subject", "")) or slug(recording.path.stem)[:32] or "unknown"
    found = {"subject": subject, "session": slug(meta.get("session", "")), "task": slug(meta.get("task", "")) or "unknown"}
    found["run"] = slug(meta.get("run", ""))
    return found


def bids_stem(recording: Recording) -> str:
    """``sub-<s>[_ses-<n>]_task-<t>[_run-<r>]`` for this recording."""
    entities = labels(recording)
    parts = [f"sub-{entities['subject']}"]
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
    return stream.info.source_id == EVENTS_STREAM.source_id


def is_markers(stream: RecordedStream) -> bool:
    """Whether this is a marker stream (ours, or any other string stream that is not our event log)."""
    return stream.info.channel_format == "string" and not is_events(stream)


def is_derived(stream: RecordedStream) -> bool:
    """Whether this is one of our derived-measure streams (the event log holds the same, complete)."""
    return stream.info.modality == FEATURE_MODALITY


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


def channel_columns(stream: RecordedStream) -> list[str]:
    """One column name per channel: ``<role>_<modality>[_<label>]``, or the stream name when unassigned."""
    base = f"{owner(stream)}_{slug(stream.info.modality) or 'data'}"
    if stream.info.channel_count == 1:
        return [base]
    labels_ = stream.info.channel_labels
    return [
        f"{base}_{slug(labels_[i]) if i < len(labels_) and slug(labels_[i]) else i}"
        for i in range(stream.info.channel_count)
    ]


def unit(stream: RecordedStream, channel: int) -> str:
    """The channel's unit as the header gives it, else ``n/a``."""
    units = stream.info.units
    return units[channel] if channel < len(units) and units[channel] else "n/a"

