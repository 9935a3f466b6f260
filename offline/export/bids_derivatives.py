"""The full measure log of a BIDS export, in ``derivatives/dyadscope/``, laid out as the raw data.

One TSV per person and kind of measure (:func:`~.tables.measure_tables`:
``t``, ``t_from_start``, ``seq``, ``role`` and the kind's fields, the tables ``analyze`` writes), with its data
dictionary (:func:`~.dictionary.measure_dictionary`) beside it. A person's
table holds their own rows and the dyad's (synchrony, concordance ... belong
to both people, so both folders have them: BIDS has no level for a pair)::

    derivatives/dyadscope/dataset_description.json   (DatasetType derivative, GeneratedBy)
    derivatives/dyadscope/sub-P01patient/ses-2/beh/sub-P01patient_ses-2_task-therapy_run-1_desc-heartrate_beh.tsv
                                                   (+ _beh.json, the data dictionary)

``t`` is the common clock (LSL seconds); ``onset`` (seconds from the
recording's first sample, as in the raw events files) follows it. Missing
values are ``n/a``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dyadscope.offline.export.bids_dataset import Person
from dyadscope.offline.export.bids_events import write_tsv
from dyadscope.offline.export.common import Progress, bids_stem, labels, no_progress, slug
from dyadscope.offline.export.dictionary import measure_dictionary, write_sidecar
from dyadscope.offline.export.tables import measure_tables
from dyadscope.stream.types import Role
from dyadscope.xdf.reader import Recording

FOLDER = Path("derivatives") / "dyadscope"
_ONSET = {"LongName": "onset", "Description": "seconds from the recording's first sample", "Units": "s"}


def export_measures(
    recording: Recording,
    logged: list[dict[str, Any]],
    out: Path,
    persons: Mapping[Role | None, Person],
    t0: float,
    progress: Progress = no_progress,
) -> list[Path]:
    """Write each person's measure tables below ``out/derivatives/dyadscope``; returns the paths.

    ``logged`` is the recording's event log (:func:`~.common.events`), ``t0``
    its time zero (seconds, common clock).
    """
    session = labels(recording)["session"]
    written = []
    for kind, table in progress(list(measure_tables(logged).items()), desc="BIDS derivatives"):
        table.insert(1, "onset", table["t"] - t0)
        dictionary = {**measure_dictionary(kind, list(table.columns)), "onset": _ONSET}
        for role, person in persons.items():
            rows = table[(table["role"] == role) | table["role"].isna()]
            if not len(rows):
                continue
            folder = out / FOLDER / f"sub-{person.label}" / (f"ses-{session}" if session else "") / "beh"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{bids_stem(recording, person.label)}_desc-{slug(kind)}_beh.tsv"
            write_tsv(rows, path)
            written += [path, write_sidecar(path, dictionary)]
    return written
