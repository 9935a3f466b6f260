"""BIDS physiological recordings and events from a recording.

Layout (BIDS 1.9, physio beside behavioural data)::

    OUT/dataset_description.json
    OUT/sub-<s>/[ses-<n>/]beh/sub-<s>[_ses-<n>]_task-<t>[_run-<r>]_recording-<rate>Hz_physio.tsv.gz
                                                            ..._recording-<rate>Hz_physio.json
                                                            ..._events.tsv  (+ _events.json)

One physio file per rate group: every regular numeric stream of that nominal
rate, both people side by side (columns ``patient_ECG``, ``therapist_ECG`` ...;
two streams of one role and modality get their stream id: ``patient_ECG_stream1``),
on one regular grid that starts at the group's first sample. A stream whose
samples sit on that grid keeps its values exactly; others are linearly
interpolated onto it (BIDS physio has one clock per file), and gaps longer
than two sample periods stay ``n/a``. ``StartTime`` is relative to the
recording's first sample; events' ``onset`` too. Events are the session's
logged features and flags (``trial_type`` = kind) and every marker.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from dyadscope.offline.export.common import (
    Progress,
    bids_stem,
    events,
    is_derived,
    labels,
    markers,
    no_progress,
    side_by_side_columns,
    start_time,
    unit,
)
from dyadscope.offline.export.dictionary import channel_description, events_levels
from dyadscope.stream.kinds import MARKER
from dyadscope.xdf.reader import RecordedStream, Recording

BIDS_VERSION = "1.9.0"


def rate_groups(recording: Recording) -> dict[float, list[RecordedStream]]:
    """Regular numeric streams with samples, by nominal rate."""
    groups: dict[float, list[RecordedStream]] = defaultdict(list)
    for stream in recording.streams:
        info = stream.info
        if info.nominal_rate > 0 and info.channel_format != "string" and len(stream) and not is_derived(stream):
            groups[info.nominal_rate].append(stream)
    return dict(sorted(groups.items(), reverse=True))


def on_grid(stream: RecordedStream, grid: np.ndarray, rate: float) -> np.ndarray:
    """The stream's channels at the grid times: exact where samples sit on it, else interpolated; NaN in gaps."""
    stamps = stream.timestamps
    values = stream.values.astype(np.float64)
    index = np.rint((stamps - grid[0]) * rate).astype(np.int64)
    if np.all(np.abs(stamps - grid[np.clip(index, 0, len(grid) - 1)]) < 1e-6) and np.all(np.diff(index) == 1):
        out = np.full((len(grid), values.shape[1]), np.nan)
        out[index[0] : index[-1] + 1] = values
        return out
    out = np.column_stack(
        [np.interp(grid, stamps, values[:, c], left=np.nan, right=np.nan) for c in range(values.shape[1])]
    )
    gaps = np.flatnonzero(np.diff(stamps) > 2.0 / rate)
    for gap in gaps:
        out[(grid > stamps[gap]) & (grid < stamps[gap + 1])] = np.nan
    return out


def _physio(streams: list[RecordedStream], rate: float, t0: float) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    start = min(float(s.timestamps[0]) for s in streams)
    end = max(float(s.timestamps[-1]) for s in streams)
    grid = start + np.arange(int(round((end - start) * rate)) + 1) / rate
    columns: dict[str, np.ndarray] = {}
    sidecar = {}
    for stream, names in zip(streams, side_by_side_columns(streams)):
        values = on_grid(stream, grid, rate)
        if stream.info.channel_format == "float32":
            values = values.astype(np.float32)  # written in float32's shortest form, exactly
        for channel, name in enumerate(names):
            columns[name] = values[:, channel]
            sidecar[name] = {
                "LongName": name,
                "Units": unit(stream, channel),
                "Description": channel_description(stream, channel),
            }
    meta = {"SamplingFrequency": rate, "StartTime": start - t0, "Columns": list(columns), **sidecar}
    return columns, meta


def write_tsv_gz(columns: dict[str, np.ndarray], path: Path) -> None:
    """A BIDS physio table: tab-separated, no header row, ``n/a`` for missing values, gzip'd.

    Arrow's CSV writer formats the numbers (shortest exact form), about three
    times faster than pandas.
    """
    table = pa.table({name: pa.array(column, from_pandas=True) for name, column in columns.items()})
    buffer = pa.BufferOutputStream()
    options = pacsv.WriteOptions(include_header=False, delimiter="\t", null_string="n/a", quoting_style="none")
    pacsv.write_csv(table, buffer, options)
    with gzip.GzipFile(path, "wb", compresslevel=3, mtime=0) as out:
        out.write(buffer.getvalue())


def _events_table(recording: Recording, t0: float) -> pd.DataFrame:
    rows = []
    for event in events(recording):
        data = event.get("data") or {}
        start, end = data.get("start", data.get("start_t")), data.get("end", data.get("end_t"))
        spans = isinstance(start, (int, float)) and isinstance(end, (int, float)) and end >= start
        rows.append(
            {
                "onset": (start if spans else event["t"]) - t0,
                "duration": end - start if spans else "n/a",
                "trial_type": event["kind"],
                "role": event.get("role") or "n/a",
                "value": json.dumps(data, default=str) if data else "n/a",
            }
        )
    for t, text, source in markers(recording):
        rows.append({"onset": t - t0, "duration": "n/a", "trial_type": MARKER, "role": "n/a", "value": text})
        rows[-1]["source"] = source
    table = pd.DataFrame(rows, columns=["onset", "duration", "trial_type", "role", "value", "source"])
    return table.fillna("n/a").sort_values("onset", kind="stable")


_EVENTS_SIDECAR = {
    "onset": {"LongName": "onset", "Description": "seconds from the recording's first sample", "Units": "s"},
    "duration": {
        "LongName": "duration",
        "Description": "length of the segment the event describes, n/a for instants",
        "Units": "s",
    },
    "trial_type": {
        "LongName": "event kind",
        "Description": "DyadScope event kind, or 'marker' for a marker stream's sample",
    },
    "role": {
        "LongName": "role",
        "Description": "whose measure: patient, therapist, or n/a for dyadic measures and markers",
    },
    "value": {
        "LongName": "event data",
        "Description": "the event's data as JSON (each kind's fields, units and meaning: DyadScope's "
        "docs/event-kinds.md), or the marker's text",
    },
    "source": {"LongName": "marker stream", "Description": "the marker stream a marker came from"},
}


def events_sidecar(table: pd.DataFrame) -> dict[str, Any]:
    """The events file's sidecar: every column, with the kinds in ``trial_type`` as BIDS ``Levels``."""
    trial_type = {**_EVENTS_SIDECAR["trial_type"], "Levels": events_levels(table["trial_type"])}
    return {**_EVENTS_SIDECAR, "trial_type": trial_type}


def export_bids(recording: Recording, out: Path, progress: Progress = no_progress) -> list[Path]:
    """Write the recording's physio and events files below ``out``; returns the paths."""
    entities = labels(recording)
    folder = out / f"sub-{entities['subject']}"
    if entities["session"]:
        folder /= f"ses-{entities['session']}"
    folder /= "beh"
    folder.mkdir(parents=True, exist_ok=True)
    stem, t0 = bids_stem(recording), start_time(recording)
    written = []
    description = out / "dataset_description.json"
    if not description.exists():
        description.write_text(json.dumps({"Name": "DyadScope recordings", "BIDSVersion": BIDS_VERSION}, indent=2))
        written.append(description)
    for rate, streams in progress(list(rate_groups(recording).items()), desc="BIDS physio"):
        columns, meta = _physio(streams, rate, t0)
        name = f"{stem}_recording-{f'{rate:g}'.replace('.', 'p')}Hz_physio"
        tsv = folder / f"{name}.tsv.gz"
        write_tsv_gz(columns, tsv)
        (folder / f"{name}.json").write_text(json.dumps(meta, indent=2))
        written += [tsv, folder / f"{name}.json"]
    table = _events_table(recording, t0)
    if len(table):
        table.to_csv(folder / f"{stem}_events.tsv", sep="\t", index=False, float_format="%.6f")
        (folder / f"{stem}_events.json").write_text(json.dumps(events_sidecar(table), indent=2, ensure_ascii=False))
        written += [folder / f"{stem}_events.tsv", folder / f"{stem}_events.json"]
    return written
