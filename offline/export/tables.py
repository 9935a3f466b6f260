"""CSV or Parquet: one table per kind of measure and one per recorded stream, each with its data dictionary.

The one table vocabulary of ``dyadscope analyze`` and ``dyadscope export --to
csv|parquet`` (both call :func:`write_measure_tables`):

* ``<kind>.csv`` -- one per event kind of the codebook (``heart_rate.csv``,
  ``rpeak.csv``, ``marker.csv`` ...): the time columns, ``seq``, ``role``
  and the event's data fields (nested ones as ``voice.valence``; lists and
  objects as JSON);
* ``stream-<name>.csv`` (export only) -- a recorded stream's samples: the
  time columns, ``t_raw`` (as the sender stamped it) and one column per
  channel, or ``text`` for a marker stream.

Time columns, in every table: ``t`` (the LSL clock, clock offsets applied,
s), ``t_from_start`` (s from the recording's earliest sample) and, where the
file header gives a datetime, ``wall_time`` (ISO 8601, UTC). Every table has
``<table>.json`` beside it (:mod:`.dictionary`): each column's meaning and unit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dyadscope.offline.export.common import (
    Progress,
    channel_columns,
    events,
    is_derived,
    is_events,
    marker_events,
    no_progress,
    slug,
    start_time,
)
from dyadscope.offline.export.dictionary import measure_dictionary, stream_dictionary, write_sidecar
from dyadscope.offline.summary import write_summary
from dyadscope.stream import kinds
from dyadscope.xdf.reader import RecordedStream, Recording

FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class Timeline:
    """A recording's time zero: ``start`` on the LSL clock (s) and, if known, its wall time (UTC)."""

    start: float = 0.0
    wall_start: np.datetime64 | None = None

    def columns(self, t: Iterable[float]) -> dict[str, Any]:
        """``t``, ``t_from_start`` and (with a wall time) ``wall_time`` for the times ``t`` (s)."""
        t = np.asarray(list(t) if not isinstance(t, np.ndarray) else t, dtype=np.float64)
        out: dict[str, Any] = {"t": t, "t_from_start": t - self.start}
        if self.wall_start is not None:
            ms = self.wall_start.astype("datetime64[ms]").astype(np.int64) + np.round((t - self.start) * 1e3)
            out["wall_time"] = iso_utc(ms.astype(np.int64))
        return out


def iso_utc(ms: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Unix milliseconds as ISO 8601 UTC strings (``2026-12-04T18:22:14.125Z``), fast enough for raw streams.

    Each second is formatted once and the milliseconds are written as digits
    into one byte buffer, which Arrow takes as it is (numpy's own formatting
    took 6 s for an hour at 500 Hz; this takes under 1 s).
    """
    seconds, frac = np.divmod(ms, 1000)
    if len(ms) and seconds.max() - seconds.min() < 10 * len(ms) + 86400:
        first = seconds.min()
        secs, index = np.arange(first, seconds.max() + 1), seconds - first
    else:
        secs, index = np.unique(seconds, return_inverse=True)
    heads = np.datetime_as_string(secs.astype("datetime64[s]"), unit="s").astype("S19")
    text = np.empty((len(ms), 24), np.uint8)
    text[:, :19] = np.frombuffer(heads.tobytes(), np.uint8).reshape(-1, 19)[index]
    text[:, 19], text[:, 23] = ord("."), ord("Z")
    for i, place in enumerate((100, 10, 1)):
        text[:, 20 + i] = ord("0") + frac // place % 10
    offsets = pa.py_buffer((np.arange(len(ms) + 1, dtype=np.int32) * 24).tobytes())
    strings = pa.Array.from_buffers(pa.string(), len(ms), [None, offsets, pa.py_buffer(text.tobytes())])
    return pd.array(strings, dtype=pd.ArrowDtype(pa.string()))


def wall_start(metadata: Mapping[str, str]) -> np.datetime64 | None:
    """The header's ``datetime`` (LabRecorder: ``2026-12-04T18:22:14+0000``) in UTC; None if absent or unreadable."""
    try:
        when = datetime.fromisoformat(metadata.get("datetime", ""))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None  # a local time of unknown zone: no wall time rather than a wrong one
    return np.datetime64(int(when.timestamp() * 1e6), "us").astype("datetime64[ns]")


def timeline(recording: Recording) -> Timeline:
    """The recording's time zero: its earliest sample, and the header's datetime taken as that sample's wall time."""
    return Timeline(start_time(recording), wall_start(recording.metadata))


def stream_table(stream: RecordedStream, when: Timeline = Timeline()) -> pd.DataFrame:
    """A stream's samples: the time columns, t_raw and one column per channel (``text`` for markers)."""
    columns = ["text"] if stream.info.channel_format == "string" and stream.info.channel_count == 1 else None
    raw = stream.raw_timestamps if len(stream.raw_timestamps) == len(stream) else stream.timestamps
    head = pd.DataFrame({**when.columns(stream.timestamps), "t_raw": raw})
    return pd.concat([head, pd.DataFrame(stream.values, columns=columns or channel_columns(stream))], axis=1)


def _uniform(column: pd.Series) -> pd.Series:
    """Object columns Parquet can store: one type per column, lists and mixed values as JSON."""
    if column.dtype != object:
        return column
    kinds = {type(v) for v in column if v is not None and not (isinstance(v, float) and pd.isna(v))}
    if len(kinds) <= 1 and not kinds & {list, dict}:
        return column
    return column.map(lambda v: None if v is None else json.dumps(v))


def measure_table(rows: list[dict[str, Any]], when: Timeline = Timeline()) -> pd.DataFrame:
    """One kind's events (``Event.to_dict()`` form) as a table: time columns, seq, role, data fields."""
    head = pd.DataFrame({**when.columns([row["t"] for row in rows]), "seq": [row.get("seq") for row in rows]})
    head["role"] = [row.get("role") for row in rows]
    data = pd.json_normalize([row.get("data") or {} for row in rows])
    table = pd.concat([head, data.drop(columns=[c for c in head.columns if c in data.columns])], axis=1)
    return table.apply(_uniform)


#: Logged kinds that are no measure: the rig's decimated raw-signal previews (the raw streams hold the signal).
NOT_MEASURES = frozenset({kinds.STREAM_PREVIEW})


def measure_tables(logged: Iterable[dict[str, Any]], when: Timeline = Timeline()) -> dict[str, pd.DataFrame]:
    """One table per feature kind from the event log (:func:`measure_table`), previews left out."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in logged:
        if event["kind"] not in NOT_MEASURES:
            by_kind[event["kind"]].append(event)
    return {kind: measure_table(rows, when) for kind, rows in by_kind.items()}


def _writer(fmt: str) -> Callable[[pd.DataFrame, Path], None]:
    """Both formats through Arrow (its CSV writer is several times faster than pandas')."""
    if fmt == "csv":
        return lambda table, path: pacsv.write_csv(pa.Table.from_pandas(table, preserve_index=False), path)
    if fmt == "parquet":
        return lambda table, path: pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path)
    raise ValueError(f"unknown table format {fmt!r}; expected one of {FORMATS}")


def write_table(table: pd.DataFrame, path: Path, dictionary: Mapping[str, Any]) -> list[Path]:
    """Write ``table`` (format from the suffix) and its data dictionary beside it; returns both paths."""
    _writer(path.suffix.lstrip("."))(table, path)
    return [path, write_sidecar(path, dictionary)]


def write_measure_tables(
    logged: list[dict[str, Any]], out: Path, when: Timeline, fmt: str = "csv", progress: Progress = no_progress
) -> list[Path]:
    """``<kind>.<fmt>`` with its dictionary for every kind in ``logged``, into ``out``; returns the paths."""
    _writer(fmt)  # an unknown format fails before anything is written
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, table in progress(sorted(measure_tables(logged, when).items()), desc=f"{fmt} measure tables"):
        written += write_table(table, out / f"{kind}.{fmt}", measure_dictionary(kind, table.columns))
    return written


def recording_events(recording: Recording) -> list[dict[str, Any]]:
    """The recording's event log plus the markers of its marker streams not already in it, in time order."""
    logged = events(recording)
    return sorted(logged + marker_events(recording, logged), key=lambda e: (e["t"], e.get("seq") or 0))


def export_tables(recording: Recording, out: Path, fmt: str = "csv", progress: Progress = no_progress) -> list[Path]:
    """Every measure and stream table of ``recording`` with its sidecar, and ``summary.json``, into ``out``.

    Our per-kind derived streams are left out: the measure tables hold the
    same values, complete. Returns the paths written.
    """
    when = timeline(recording)
    logged = recording_events(recording)
    written = write_measure_tables(logged, out, when, fmt, progress)
    names: list[str] = []
    for stream in progress([s for s in recording.streams if not (is_events(s) or is_derived(s))], desc="streams"):
        name = f"stream-{slug(stream.info.name) or stream.stream_id}"
        name += str(stream.stream_id) if name in names else ""  # two streams of one name
        names.append(name)
        table = stream_table(stream, when)
        written += write_table(table, out / f"{name}.{fmt}", stream_dictionary(stream, list(table.columns)))
    tables = [p.name for p in written if p.suffix != ".json"]
    return [*written, write_summary(out, logged, tables=tables, notes=recording.notes)]
