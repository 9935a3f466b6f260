"""A person's BIDS ``events.tsv``: markers, the resting baseline and flags (not the feature log).

Each person's events file holds every marker (from every marker stream: they
belong to the session), the baseline phase's start, that person's baseline
result, and the flags that concern them: their own signal-quality problems
and dissonant segments, and the dyad's desynchrony flags. The full feature
log (heart rate every second, EDA at 4 Hz ...) is in the derivatives
(:mod:`.bids_derivatives`). ``onset`` is seconds from the recording's first
sample, as the physio files' ``StartTime``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd

from dyadscope.offline.export.common import flag_row, markers
from dyadscope.offline.export.dictionary import events_levels
from dyadscope.stream import kinds
from dyadscope.stream.types import Role
from dyadscope.xdf.reader import Recording

COLUMNS = ["onset", "duration", "trial_type", "role", "value", "source"]
#: Logged kinds an events file keeps besides flags (markers come from the marker streams, where the log's also go).
KEPT_KINDS = (kinds.BASELINE_START, kinds.BASELINE)


def write_tsv(table: pd.DataFrame, path: Path) -> None:
    """A BIDS TSV: a header row, tabs, ``n/a`` for missing values, no quoting (tabs and newlines in text become spaces).

    JSON in a cell stays as it is (``{"start": 43.0}``), readable by any TSV reader.
    """
    text = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    clean = table.assign(**{c: table[c].map(lambda v: v.translate(_SPACES) if isinstance(v, str) else v) for c in text})
    clean.to_csv(path, sep="\t", index=False, na_rep="n/a", quoting=csv.QUOTE_NONE, float_format="%.6f")


_SPACES = str.maketrans("\t\n\r", "   ")


def is_kept(event: dict[str, Any], role: Role | None) -> bool:
    """Whether a logged event goes into ``role``'s events file: baseline or a flag, theirs or the dyad's."""
    if event.get("role") not in (None, role):
        return False
    return event["kind"] in KEPT_KINDS or flag_row(event) is not None


def events_table(recording: Recording, logged: list[dict[str, Any]], t0: float, role: Role | None) -> pd.DataFrame:
    """``role``'s events (markers, baseline, flags) in time order.

    ``logged`` is the recording's event log (:func:`~.common.events`), ``t0``
    its time zero (seconds, common clock).
    """
    rows = []
    for event in logged:
        if not is_kept(event, role):
            continue
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
        rows.append({"onset": t - t0, "duration": "n/a", "trial_type": kinds.MARKER, "role": "n/a", "value": text})
        rows[-1]["source"] = source
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values("onset", kind="stable")  # missing values: n/a when written (write_tsv)


_SIDECAR = {
    "onset": {"LongName": "onset", "Description": "seconds from the recording's first sample", "Units": "s"},
    "duration": {
        "LongName": "duration",
        "Description": "length of the segment the event describes, n/a for instants",
        "Units": "s",
    },
    "trial_type": {
        "LongName": "event kind",
        "Description": "DyadScope event kind (baseline, flags), or 'marker' for a marker stream's sample",
    },
    "role": {
        "LongName": "role",
        "Description": "whose event: patient, therapist, or n/a for the dyad's events and markers",
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
    trial_type = {**_SIDECAR["trial_type"], "Levels": events_levels(table["trial_type"])}
    return {**_SIDECAR, "trial_type": trial_type}
