"""Data dictionaries: what every column of an exported table holds, from the codebook.

Each table the exporters write gets a JSON sidecar beside it, one entry per
column in BIDS's form (``LongName``, ``Description``, ``Units`` where the
column has a unit), so a researcher opening a CSV months later knows that
``amplitude_us`` is in µS and what it measures. Measure columns are described
by :mod:`dyadscope.stream.kinds`; a column the codebook does not know (a
recording from another version) is still listed, and says so.

* :func:`measure_dictionary` -- a measure table (one event kind);
* :func:`stream_dictionary` -- a stream table (one recorded stream);
* :func:`events_levels` -- ``trial_type`` levels of a BIDS events file;
* :func:`write_sidecar` -- ``<table>.json`` beside the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dyadscope.offline.export.common import unit
from dyadscope.stream.kinds import ENVELOPE, KINDS, MARKER, Field
from dyadscope.xdf.reader import RecordedStream

#: Measure-table columns that come from the event's envelope.
_ENVELOPE_COLUMNS = ("seq", "role")
#: The time columns of every table (:class:`~.tables.Timeline`), then a stream table's raw time.
TIME_COLUMNS: Mapping[str, dict[str, str]] = {
    "t": {
        "LongName": "t",
        "Description": "time on the recording's LSL clock (clock offsets applied): the t of events.jsonl",
        "Units": "s",
    },
    "t_from_start": {
        "LongName": "t_from_start",
        "Description": "seconds since the recording's earliest sample (t minus the recording's start)",
        "Units": "s",
    },
    "wall_time": {
        "LongName": "wall_time",
        "Description": "ISO 8601 UTC: the file header's datetime (when recording began, 1 s resolution) "
        "plus t_from_start; only where the header gives a datetime",
    },
    "t_raw": {"LongName": "t_raw", "Description": "the time as the sender stamped it (its own clock)", "Units": "s"},
}


def column_entry(name: str, field: Field | None, what: str = "") -> dict[str, str]:
    """One column's entry: its name, what it means (``what`` prefixes it) and its unit."""
    if field is None:
        return {"LongName": name, "Description": f"{what}not described by the DyadScope codebook"}
    entry = {"LongName": name, "Description": what + field.meaning}
    if field.unit is not None:
        entry["Units"] = field.unit
    return entry


def measure_dictionary(kind: str, columns: Iterable[str]) -> dict[str, dict[str, str]]:
    """Entries for a measure table of ``kind``: envelope columns, data fields, nested ones (``voice.valence``)."""
    known = KINDS.get(kind)
    fields: Mapping[str, Field] = known.fields if known is not None else {}
    out = {}
    for column in columns:
        if column in TIME_COLUMNS:
            out[column] = TIME_COLUMNS[column]
            continue
        if column in _ENVELOPE_COLUMNS:
            out[column] = column_entry(column, ENVELOPE[column])
            continue
        parent, _, key = column.partition(".")
        what = f"{key} of {parent}: " if key else ""
        out[column] = column_entry(column, fields.get(parent), what)
    return out


def channel_description(stream: RecordedStream, channel: int) -> str:
    """What one channel of a recorded stream is: modality, whose, which stream."""
    info = stream.info
    return f"{info.modality} of the {info.role or 'unassigned'} stream '{info.name}', channel {channel}"


def stream_dictionary(stream: RecordedStream, columns: Iterable[str]) -> dict[str, dict[str, str]]:
    """Entries for a stream table: the time columns, ``text`` (markers) or one column per channel."""
    info = stream.info
    out = {c: TIME_COLUMNS[c] for c in columns if c in TIME_COLUMNS}
    for channel, column in enumerate(c for c in columns if c not in TIME_COLUMNS):
        if column == "text":
            out[column] = {"LongName": "text", "Description": f"the marker's text, from the stream '{info.name}'"}
            continue
        who = info.role or "unassigned"
        entry = {
            "LongName": column,
            "Description": f"{info.modality} of the {who} stream '{info.name}', channel {channel}",
        }
        if unit(stream, channel) != "n/a":
            entry["Units"] = unit(stream, channel)
        out[column] = entry
    return out


def events_levels(kinds: Iterable[str]) -> dict[str, str]:
    """``trial_type`` levels (BIDS ``Levels``): each kind that occurs, with its meaning from the codebook."""
    levels = {}
    for kind in sorted(set(kinds)):
        known = KINDS.get(kind)
        levels[kind] = known.meaning if known is not None else "not described by the DyadScope codebook"
    levels.setdefault(MARKER, KINDS[MARKER].meaning)
    return levels


def sidecar_path(table: Path) -> Path:
    """``<table>.json`` beside the table (``x.csv`` and ``x.parquet`` share ``x.json``: same columns)."""
    return table.with_suffix(".json")


def write_sidecar(table: Path, dictionary: Mapping[str, Any]) -> Path:
    """Write ``dictionary`` as the table's sidecar; returns its path."""
    path = sidecar_path(table)
    path.write_text(json.dumps(dictionary, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
