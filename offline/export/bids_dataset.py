"""The dataset around a BIDS export: who is who, and the files that describe it.

* :func:`people` -- one BIDS subject per person of the recording. A person's
  label is their pseudonymous id where the recording names it (our live
  sessions write ``participant_patient`` / ``participant_therapist`` into the
  file header), else the recording's subject with the role appended
  (``P01`` -> ``P01patient``, ``P01therapist``). Streams no role is known for
  (other tools' files) belong to the recording's subject itself.
* :func:`write_participants` -- ``participants.tsv`` (``participant_id``,
  ``dyad``, ``role``) and its ``participants.json``, merged with the rows of
  earlier exports into the same folder. ``dyad`` is the recording's subject:
  the label the session was recorded under, shared by both people.
* :func:`write_description` -- ``dataset_description.json`` (raw, or the
  derivatives' with ``GeneratedBy``), with the authors; :func:`write_readme`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from dyadscope.offline.export.common import slug
from dyadscope.stream.types import ROLES, Role
from dyadscope.xdf.reader import Recording

BIDS_VERSION = "1.10.0"
#: Who the dataset says made it when no ``--author`` (or ``DYADSCOPE_BIDS_AUTHORS``) is given.
DEFAULT_AUTHORS = ("DyadScope export",)


@dataclass(frozen=True)
class Person:
    """One BIDS subject: its label (``sub-<label>``), role (None: not known) and dyad (None: not a dyad's)."""

    label: str
    role: Role | None
    dyad: str | None


def people(recording: Recording, subject: str, roles: Iterable[Role | None]) -> dict[Role | None, Person]:
    """A :class:`Person` for each of ``roles`` (whose data the recording holds), by role."""
    roles = set(roles)
    dyad = subject if roles & set(ROLES) else None
    found: dict[Role | None, Person] = {}
    for role in ROLES:
        if role in roles:
            label = slug(recording.metadata.get(f"participant_{role}", "")) or f"{subject}{role}"
            found[role] = Person(label, role, dyad)
    if None in roles:
        taken = {p.label for p in found.values()}
        found[None] = Person(subject if subject not in taken else f"{subject}unassigned", None, dyad)
    return found


_PARTICIPANTS_SIDECAR = {
    "participant_id": {"LongName": "participant id", "Description": "the person's pseudonymous BIDS subject"},
    "dyad": {
        "LongName": "dyad",
        "Description": "the patient-therapist pair the person was recorded in (the recording's subject label); "
        "both people of a session share it and their ses- label; n/a for a recording of no dyad",
    },
    "role": {
        "LongName": "role",
        "Description": "the person's role in the dyad",
        "Levels": {"patient": "the patient", "therapist": "the therapist", "n/a": "not known (another tool's file)"},
    },
}


def write_participants(out: Path, persons: Sequence[Person]) -> list[Path]:
    """Add ``persons`` to ``participants.tsv`` (replacing their earlier rows) and write its sidecar."""
    path = out / "participants.tsv"
    rows = pd.DataFrame(
        {
            "participant_id": [f"sub-{p.label}" for p in persons],
            "dyad": [p.dyad or "n/a" for p in persons],
            "role": [p.role or "n/a" for p in persons],
        }
    )
    if path.exists():
        earlier = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        rows = pd.concat([earlier[~earlier["participant_id"].isin(rows["participant_id"])], rows])
    rows.sort_values("participant_id").to_csv(path, sep="\t", index=False)
    sidecar = out / "participants.json"
    sidecar.write_text(json.dumps(_PARTICIPANTS_SIDECAR, indent=2))
    return [path, sidecar]


def _version() -> str:
    try:
        return version("dyadscope")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


def generated_by() -> list[dict[str, str]]:
    """BIDS ``GeneratedBy``: this program and its version."""
    return [{"Name": "DyadScope", "Version": _version()}]


def write_description(folder: Path, authors: Sequence[str] | None, derivative: bool = False) -> Path:
    """Write ``folder/dataset_description.json``, keeping an earlier one's fields; ``authors`` None keeps theirs.

    A derivative dataset (``derivatives/dyadscope``) says so (``DatasetType``)
    and what generated it, as BIDS requires.
    """
    path = folder / "dataset_description.json"
    folder.mkdir(parents=True, exist_ok=True)
    earlier: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    name = "DyadScope derived measures" if derivative else "DyadScope recordings"
    description = {
        "Name": name,
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative" if derivative else "raw",
        **earlier,
        "Authors": list(authors or earlier.get("Authors") or DEFAULT_AUTHORS),
        "GeneratedBy": generated_by(),
    }
    path.write_text(json.dumps(description, indent=2, ensure_ascii=False))
    return path


_README = """\
# DyadScope recordings

Psychotherapy sessions recorded by DyadScope, exported to BIDS
(`dyadscope export FILE.xdf --to bids --out DIR`).

- One `sub-` folder per person: the patient and the therapist of a session
  each under their own pseudonymous id, in a `ses-` folder of the same label.
  `participants.tsv` says who is who: `dyad` (shared by both people of a
  session) and `role` (patient or therapist).
- `beh/*_physio.tsv.gz` + `.json`: the person's raw signals (ECG, EDA,
  respiration ...), one file per sampling rate (`recording-<rate>Hz`).
- `eeg/`: EEG streams, as BrainVision files with their sidecars.
- `beh/*_events.tsv`: markers, the resting baseline and flags (signal
  quality, dissonance, desynchrony); `onset` in seconds from the recording's
  first sample.
- `derivatives/dyadscope/sub-*/`: the full measure log (heart rate, EDA,
  RSA, synchrony ...), per person one `desc-<measure>_beh.tsv` per kind of
  measure with its data dictionary; the dyad's measures (synchrony) are in
  both people's folders.
"""


def write_readme(out: Path) -> list[Path]:
    """The dataset's README, unless one is there (a curator's own is kept)."""
    path = out / "README.md"
    if path.exists() or (out / "README").exists():
        return []
    path.write_text(_README)
    return [path]
