"""BIDS for a dyad: one subject per person, their physio, EEG and events, the measures as derivatives.

Layout (BIDS 1.10; ``[ses-<n>]``, ``[_run-<r>]`` where the recording has them)::

    OUT/dataset_description.json   README.md   participants.tsv (+ .json: dyad, role)
    OUT/sub-<person>/[ses-<n>/]beh/sub-<person>[_ses-<n>]_task-<t>[_run-<r>]_recording-<rate>Hz_physio.tsv.gz (+ .json)
                                   beh/..._events.tsv (+ .json)
                                   eeg/..._eeg.vhdr/.vmrk/.eeg, _eeg.json, _channels.tsv
    OUT/derivatives/dyadscope/sub-<person>/...  the measure log, per person (:mod:`.bids_derivatives`)

Who ``<person>`` is, and the ``dyad`` both people share, is
:mod:`.bids_dataset`'s; the events files are :mod:`.bids_events`', EEG is
:mod:`.bids_eeg`'s. One physio file per person and rate group: every regular
numeric stream of that person and nominal rate (columns ``ECG``, ``EDA`` ...;
two streams of one modality get their stream id: ``ECG_stream1``; streams of
no known person are named after the stream), on one regular grid that starts
at the group's first sample. A stream whose samples sit on that grid keeps
its values exactly; others are linearly interpolated onto it (BIDS physio has
one clock per file), and gaps longer than two sample periods stay ``n/a``.
``StartTime`` is relative to the recording's first sample; events' ``onset``
too, so both people's files share one time zero.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from dyadscope.offline.export.bids_dataset import Person, people, write_description, write_participants, write_readme
from dyadscope.offline.export.bids_derivatives import FOLDER, export_measures
from dyadscope.offline.export.bids_eeg import have_writer, is_eeg, write_eeg
from dyadscope.offline.export.bids_events import events_sidecar, events_table, write_tsv
from dyadscope.offline.export.common import (
    Progress,
    bids_stem,
    events,
    is_derived,
    labels,
    no_progress,
    side_by_side_columns,
    start_time,
    unit,
)
from dyadscope.offline.export.dictionary import channel_description
from dyadscope.stream.types import ROLES
from dyadscope.xdf.reader import RecordedStream, Recording

logger = logging.getLogger(__name__)

#: BIDS ``PhysioType`` of our physio files (not eye tracking).
PHYSIO_TYPE = "generic"


def is_physio(stream: RecordedStream) -> bool:
    """Whether a stream goes into a physio file: regular, numeric, with samples, raw (not ours derived), not EEG."""
    info = stream.info
    regular = info.nominal_rate > 0 and info.channel_format != "string" and len(stream) > 0
    return regular and not is_derived(stream) and not is_eeg(stream)


def rate_groups(streams: Sequence[RecordedStream]) -> dict[float, list[RecordedStream]]:
    """``streams`` by nominal rate, fastest first."""
    groups: dict[float, list[RecordedStream]] = defaultdict(list)
    for stream in streams:
        groups[stream.info.nominal_rate].append(stream)
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


def _physio(
    streams: list[RecordedStream], rate: float, t0: float, by_name: bool
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    start = min(float(s.timestamps[0]) for s in streams)
    end = max(float(s.timestamps[-1]) for s in streams)
    grid = start + np.arange(int(round((end - start) * rate)) + 1) / rate
    columns: dict[str, np.ndarray] = {}
    sidecar = {}
    for stream, names in zip(streams, side_by_side_columns(streams, with_owner=by_name)):
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
    meta = {"SamplingFrequency": rate, "StartTime": start - t0, "Columns": list(columns), "PhysioType": PHYSIO_TYPE}
    return columns, {**meta, **sidecar}


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


def _write_physio(person: Person, streams: list[RecordedStream], folder: Path, stem: str, t0: float, task: str,
                  progress: Progress) -> list[Path]:  # fmt: skip
    written = []
    for rate, group in progress(list(rate_groups(streams).items()), desc="BIDS physio"):
        columns, meta = _physio(group, rate, t0, by_name=person.role is None)
        name = f"{stem}_recording-{f'{rate:g}'.replace('.', 'p')}Hz_physio"
        write_tsv_gz(columns, folder / f"{name}.tsv.gz")
        (folder / f"{name}.json").write_text(json.dumps({"TaskName": task, **meta}, indent=2, ensure_ascii=False))
        written += [folder / f"{name}.tsv.gz", folder / f"{name}.json"]
    return written


def _write_person(recording: Recording, logged: list[dict[str, Any]], person: Person, out: Path,
                  streams: list[RecordedStream], t0: float, progress: Progress) -> list[Path]:  # fmt: skip
    """One person's physio, EEG and events files."""
    entities = labels(recording)
    folder = out / f"sub-{person.label}"
    if entities["session"]:
        folder /= f"ses-{entities['session']}"
    stem = bids_stem(recording, person.label)
    physio, eeg = [s for s in streams if is_physio(s)], [s for s in streams if is_eeg(s)]
    written = []
    if physio:
        (folder / "beh").mkdir(parents=True, exist_ok=True)
        written += _write_physio(person, physio, folder / "beh", stem, t0, entities["task"], progress)
    for n, stream in enumerate(eeg):  # a second EEG stream of one person gets its own acquisition label
        head, run, label = stem.partition("_run-")  # acq- goes after task-, before run-
        eeg_stem = f"{head}_acq-stream{stream.stream_id}{run}{label}" if n else stem
        written += write_eeg(stream, folder / "eeg", eeg_stem, entities["task"])
    table = events_table(recording, logged, t0, person.role)
    if len(table):
        where = folder / ("eeg" if eeg and not physio else "beh")
        where.mkdir(parents=True, exist_ok=True)
        write_tsv(table, where / f"{stem}_events.tsv")
        (where / f"{stem}_events.json").write_text(json.dumps(events_sidecar(table), indent=2, ensure_ascii=False))
        written += [where / f"{stem}_events.tsv", where / f"{stem}_events.json"]
    return written


def _data_streams(recording: Recording) -> list[RecordedStream]:
    """The streams a BIDS export writes: physio, and EEG where pybv can write it (else left out, said once)."""
    eeg = [s for s in recording.streams if is_eeg(s) and not is_derived(s)]
    if eeg and not have_writer():
        logger.warning("left out %d EEG stream(s): BrainVision needs pybv (pip install 'dyadscope[export]')", len(eeg))
        eeg = []
    return [s for s in recording.streams if is_physio(s)] + eeg


def export_bids(
    recording: Recording, out: Path, progress: Progress = no_progress, authors: Sequence[str] | None = None
) -> list[Path]:
    """Write the recording below ``out`` as one BIDS subject per person, with derivatives; returns the paths.

    ``authors`` go into both ``dataset_description.json`` files (None keeps
    an earlier export's, else :data:`~.bids_dataset.DEFAULT_AUTHORS`).
    """
    entities, t0 = labels(recording), start_time(recording)
    streams = _data_streams(recording)
    logged = events(recording)
    roles = {s.info.role for s in streams} | {e["role"] for e in logged if e.get("role") in ROLES}
    persons = people(recording, entities["subject"], roles or {None})
    out.mkdir(parents=True, exist_ok=True)
    written, present = [write_description(out, authors), *write_readme(out)], []
    for role, person in persons.items():
        mine = _write_person(recording, logged, person, out, [s for s in streams if s.info.role == role], t0, progress)
        present += [person] if mine else []  # only measures of them (no stream, marker or flag): not a raw subject
        written += mine
    written += write_participants(out, present)
    measures = export_measures(recording, logged, out, persons, t0, progress)
    if measures:
        written += [write_description(out / FOLDER, authors, derivative=True), *measures]
    return written
