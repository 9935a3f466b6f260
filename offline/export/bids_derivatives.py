"""The full measure log of a BIDS export, in ``derivatives/dyadscope/``.

One TSV per kind of measure (:func:`~.tables.measure_tables`: ``time``,
``seq``, ``t_emit``, ``role`` and the kind's fields), with its data dictionary
(:func:`~.dictionary.measure_dictionary`) beside it, for the whole dyad: both
people's rows in one table (``role`` says whose; synchrony is the dyad's).
They go below ``dyad-<dyad>/[ses-<session>/]`` (the ``dyad`` of
``participants.tsv``), named after the recording::

    derivatives/dyadscope/dataset_description.json   (DatasetType derivative, GeneratedBy)
    derivatives/dyadscope/dyad-P01/ses-2/dyad-P01_ses-2_task-therapy_run-1_measure-heartrate.tsv (+ .json)

``time`` is the common clock (LSL seconds); ``onset`` (seconds from the
recording's first sample, as in the raw events files) is added after it.
Missing values are ``n/a``.
"""

from __future__ import annotations

from pathlib import Path

from dyadscope.offline.export.bids_events import write_tsv
from dyadscope.offline.export.common import Progress, events, no_progress, slug
from dyadscope.offline.export.dictionary import measure_dictionary, write_sidecar
from dyadscope.offline.export.tables import measure_tables
from dyadscope.xdf.reader import Recording

FOLDER = Path("derivatives") / "dyadscope"
_ONSET = {"LongName": "onset", "Description": "seconds from the recording's first sample", "Units": "s"}


def export_measures(
    recording: Recording, out: Path, entities: dict[str, str], dyad: str, t0: float, progress: Progress = no_progress
) -> list[Path]:
    """Write the recording's measure tables below ``out/derivatives/dyadscope``; returns the paths.

    ``entities`` are the recording's BIDS labels (:func:`~.common.labels`),
    ``t0`` its time zero (seconds, common clock).
    """
    tables = measure_tables(events(recording))
    if not tables:
        return []
    folder = out / FOLDER / f"dyad-{dyad}"
    stem = [f"dyad-{dyad}"]
    if entities["session"]:
        folder /= f"ses-{entities['session']}"
        stem.append(f"ses-{entities['session']}")
    stem.append(f"task-{entities['task']}")
    if entities["run"]:
        stem.append(f"run-{entities['run']}")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, table in progress(list(tables.items()), desc="BIDS derivatives"):
        table.insert(1, "onset", table["time"] - t0)
        path = folder / f"{'_'.join(stem)}_measure-{slug(kind)}.tsv"
        write_tsv(table, path)
        dictionary = measure_dictionary(kind, list(table.columns))
        written += [path, write_sidecar(path, {**dictionary, "onset": _ONSET})]
    return written
