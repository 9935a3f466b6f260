"""CSV or Parquet: one table per stream and one per kind of measure.

Stream tables have ``time`` (the common clock, clock offsets applied),
``time_raw`` (as the sender stamped it) and one column per channel; marker
streams have ``time`` and ``text``. Measure tables come from the session's
event log, one per feature kind: ``time``, ``seq``, ``t_emit``, ``role`` and
the feature's data fields (nested ones as ``voice.valence``; lists as JSON).
Our per-kind derived streams are left out: the measure tables hold the same
values, complete. Every table has its data dictionary beside it
(``<table>.json``, see :mod:`.dictionary`): each column's name, meaning and unit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dyadscope.offline.export.common import (
    Progress,
    bids_stem,
    channel_columns,
    events,
    is_derived,
    is_events,
    no_progress,
    slug,
)
from dyadscope.offline.export.dictionary import measure_dictionary, stream_dictionary, write_sidecar
from dyadscope.xdf.reader import RecordedStream, Recording

FORMATS = ("csv", "parquet")


def stream_table(stream: RecordedStream) -> pd.DataFrame:
    """A stream's samples: time, time_raw and one column per channel (``text`` for markers)."""
    columns = ["text"] if stream.info.channel_format == "string" and stream.info.channel_count == 1 else None
    table = pd.DataFrame(stream.values, columns=columns or channel_columns(stream))
    table.insert(
        0, "time_raw", stream.raw_timestamps if len(stream.raw_timestamps) == len(stream) else stream.timestamps
    )
    table.insert(0, "time", stream.timestamps)
    return table


def _uniform(column: pd.Series) -> pd.Series:
    """Object columns Parquet can store: one type per column, lists and mixed values as JSON."""
    if column.dtype != object:
        return column
    kinds = {type(v) for v in column if v is not None and not (isinstance(v, float) and pd.isna(v))}
    if len(kinds) <= 1 and not kinds & {list, dict}:
        return column
    return column.map(lambda v: None if v is None else json.dumps(v))


def measure_tables(logged: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """One table per feature kind from the event log."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in logged:
        by_kind[event["kind"]].append(event)
    tables = {}
    for kind, rows in by_kind.items():
        data = pd.json_normalize([row.get("data") or {} for row in rows])
        head = pd.DataFrame(
            {
                "time": [row["t"] for row in rows],
                "seq": [row.get("seq") for row in rows],
                "t_emit": [row.get("t_emit") for row in rows],
                "role": [row.get("role") for row in rows],
            }
        )
        table = pd.concat([head, data.drop(columns=[c for c in head.columns if c in data.columns])], axis=1)
        tables[kind] = table.apply(_uniform)
    return tables


def _writer(fmt: str) -> Callable[[pd.DataFrame, Path], None]:
    """Both formats through Arrow (its CSV writer is several times faster than pandas')."""
    if fmt == "csv":
        return lambda table, path: pacsv.write_csv(pa.Table.from_pandas(table, preserve_index=False), path)
    if fmt == "parquet":
        return lambda table, path: pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path)
    raise ValueError(f"unknown table format {fmt!r}; expected one of {FORMATS}")


def export_tables(recording: Recording, out: Path, fmt: str = "csv", progress: Progress = no_progress) -> list[Path]:
    """Write every stream and measure table of ``recording``, each with its sidecar, into ``out``; returns the paths."""
    write = _writer(fmt)
    out.mkdir(parents=True, exist_ok=True)
    stem = bids_stem(recording)
    # name, the table, its data dictionary given its columns
    jobs: list[tuple[str, Callable[[], pd.DataFrame], Callable[[list[str]], dict]]] = []
    for stream in recording.streams:
        if not (is_events(stream) or is_derived(stream)):
            name = f"stream-{slug(stream.info.name) or stream.stream_id}"
            if any(name == taken for taken, _, _ in jobs):
                name += str(stream.stream_id)  # two streams of one name
            jobs.append((name, lambda s=stream: stream_table(s), lambda c, s=stream: stream_dictionary(s, c)))
    for kind, table in measure_tables(events(recording)).items():
        jobs.append((f"measure-{slug(kind)}", lambda t=table: t, lambda c, k=kind: measure_dictionary(k, c)))
    written = []
    for name, build, describe in progress(jobs, desc=f"{fmt} tables"):
        path = out / f"{stem}_{name}.{fmt}"
        table = build()
        write(table, path)
        written += [path, write_sidecar(path, describe(list(table.columns)))]
    return written
