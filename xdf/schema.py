"""Our XDF dialect: the streams DyadScope adds, the fields it writes, how derived streams are marked.

A DyadScope recording is a plain XDF file that LabRecorder's readers load;
what makes it ours is written in a few places, all named here:

* the **file header** carries ``writer`` = ``dyadscope`` and the session's
  metadata (subject, session, task, run ...), see :func:`file_header_fields`;
  a simulated recording's metadata adds the structure planted in its
  signals (:data:`PLANTED`, :func:`planted_field`);
* every **stream header** gains ``<desc><dyadscope>`` with the stream's
  ``role`` (empty when unknown), its ``modality`` and the session's metadata,
  and for a derived stream the event ``kind`` it carries
  (built by :func:`desc_fields`, read back by :func:`parse_desc`);
* **our own streams**: the JSON event log (:data:`EVENTS_STREAM`), the
  research assistant's markers (:data:`MARKERS_STREAM`) and one derived
  stream per event kind and role (:func:`derived_stream_info`), told apart
  from raw sensor streams by their LSL type :data:`FEATURE_MODALITY`
  (:func:`is_derived`);
* the **sender's header** fields an outlet we publish carries, as LSL tools
  read them: ``<desc><role>`` and ``<desc><channels><channel>`` with
  ``label``, ``unit`` and ``type`` (:data:`ROLE`, :func:`channel_fields`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from dyadscope.stream import kinds
from dyadscope.stream.types import ROLES, Role, StreamInfo

#: The element below ``<desc>`` that holds our fields.
DESC_ELEMENT = "dyadscope"
#: The file header's ``writer`` field in our recordings.
WRITER = "dyadscope"

#: Field names: in ``<desc><dyadscope>`` (role, modality, kind), and ``<desc><role>`` of a sender's header.
ROLE = "role"
MODALITY = "modality"
KIND = "kind"

#: Metadata field of a simulated recording: the structure planted in its signals, as JSON.
PLANTED = "planted"

#: Who a dyad-level derived measure belongs to (synchrony, concordance ...), in stream names and ids.
DYAD = "dyad"

#: LSL type of the derived-measure streams (one per event kind and role).
FEATURE_MODALITY = "DyadScope.Feature"

EVENTS_STREAM = StreamInfo(
    name="DyadScope events", modality="DyadScope.Events", channel_count=1, nominal_rate=0.0,
    channel_format="string", source_id="dyadscope:events",
)  # fmt: skip
MARKERS_STREAM = StreamInfo(
    name="DyadScope markers", modality="Markers", channel_count=1, nominal_rate=0.0,
    channel_format="string", source_id="dyadscope:markers",
)  # fmt: skip


def derived_source_id(kind: str, role: Role | None, of: str | None = None) -> str:
    """The source_id (and so the stream key) of the derived stream of ``kind`` for ``role`` (None: the dyad).

    ``of`` is the modality a measure is of (synchrony in EDA, in heart rate ...): one stream each, so no
    stream mixes modalities.
    """
    return f"dyadscope:feature:{kind}:{role or DYAD}" + (f":{of}" if of else "")


def derived_stream_info(kind: str, role: Role | None, fields: tuple[str, ...], of: str | None = None) -> StreamInfo:
    """The stream that carries one kind of derived measure of one role (or of the dyad), a channel per field.

    Channel units come from the codebook (:mod:`dyadscope.stream.kinds`); empty where a field has none.
    """
    return StreamInfo(
        name=f"DyadScope {kind} {of + ' ' if of else ''}{role or DYAD}",
        modality=FEATURE_MODALITY,
        channel_count=len(fields),
        nominal_rate=0.0,
        channel_format="double64",
        source_id=derived_source_id(kind, role, of),
        role=role,
        channel_labels=fields,
        units=tuple(kinds.unit(kind, field) or "" for field in fields),
    )


#: Text fields a derived stream still carries, as numbers: who leads is +1 (the patient), -1 (the therapist), 0.
ROLE_CODES: dict[str, dict[str | None, float]] = {"leader": {"patient": 1.0, "therapist": -1.0, None: 0.0}}


def derived_fields(kind: str, data: Mapping[str, Any]) -> tuple[str, ...]:
    """The channels of ``kind``'s derived stream: every number, yes/no and coded field the codebook gives it.

    From the codebook rather than the first event, so a field that is None at first (a chance level
    while its surrogates are too few) still has its channel; a kind the codebook lacks keeps the
    first event's numbers.
    """
    known = kinds.KINDS.get(kind)
    if known is None:
        return tuple(sorted(k for k, v in data.items() if derived_value(k, v) is not None))
    numeric = ("float", "int", "bool")
    return tuple(
        name for name, f in known.fields.items() if f.type.removesuffix(" | null") in numeric or name in ROLE_CODES
    )


def derived_value(name: str, value: Any) -> float | None:
    """A field's value on its derived channel (NaN for None), or None if it has no number."""
    if name in ROLE_CODES:
        return ROLE_CODES[name].get(value, math.nan)
    if value is None:
        return math.nan
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return None


def is_derived(info: StreamInfo) -> bool:
    """Whether this is one of our derived-measure streams (the event log holds the same, complete)."""
    return info.modality == FEATURE_MODALITY


def is_event_log(info: StreamInfo) -> bool:
    """Whether this is our JSON event log."""
    return info.source_id == EVENTS_STREAM.source_id


def file_header_fields(created: str, metadata: Mapping[str, str]) -> dict[str, str]:
    """The file header's fields after ``version``: creation time (LabRecorder's ISO 8601 form), writer, metadata."""
    return {"datetime": created, "writer": WRITER, **metadata}


def parse_file_header(file_header: Mapping[str, Any] | None) -> dict[str, str]:
    """The file header's fields as strings, from pyxdf's dict of it (``{"info": {...}}``); any writer's file."""
    fields = (file_header or {}).get("info") or {}
    return {key: str(_first(value) or "") for key, value in fields.items()}


def planted_field(planted: Mapping[str, object]) -> dict[str, str]:
    """The metadata field that carries a simulation's planted structure (JSON a researcher can read as it is)."""
    return {PLANTED: json.dumps(planted, ensure_ascii=False)}


def parse_planted(fields: Mapping[str, str]) -> dict[str, Any] | None:
    """The planted structure from :func:`parse_file_header`'s fields; None for a recording of real people."""
    text = fields.get(PLANTED)
    return json.loads(text) if text else None


def desc_fields(info: StreamInfo, metadata: Mapping[str, object] | None = None) -> dict[str, object]:
    """The ``<desc><dyadscope>`` fields of a stream: its role and modality, then the metadata (and a kind)."""
    return {ROLE: info.role or "", MODALITY: info.modality, **(metadata or {})}


def parse_desc(header: Mapping[str, Any]) -> dict[str, str]:
    """The ``<desc><dyadscope>`` fields of a stream header in pyxdf's dict shape; empty for other tools' streams."""
    desc = _first(header.get("desc"))
    ours = _first(desc.get(DESC_ELEMENT)) if isinstance(desc, Mapping) else None
    if not isinstance(ours, Mapping):
        return {}
    return {key: _first(value) or "" for key, value in ours.items()}


def desc_role(fields: Mapping[str, str]) -> Role | None:
    """The role that parsed ``<desc><dyadscope>`` fields give, or None (none written, or not a known role)."""
    role = fields.get(ROLE)
    return cast(Role, role) if role in ROLES else None


#: The channel type MNE (and mnelab, which reads XDF through it) knows for a modality; others keep theirs.
MNE_CHANNEL_TYPES = {"ECG": "ECG", "RSP": "RESP", "EDA": "GSR"}


def channel_fields(info: StreamInfo) -> list[dict[str, str | None]]:
    """Per channel, the ``<channel>`` fields of a header: label, unit (None if none), type.

    A channel without a label is named by the modality (numbered when the
    stream has several).
    """
    return [
        {
            "label": info.channel_labels[i]
            if i < len(info.channel_labels) and info.channel_labels[i]
            else (info.modality if info.channel_count == 1 else f"{info.modality} {i + 1}"),
            "unit": info.units[i] if i < len(info.units) and info.units[i] else None,
            "type": MNE_CHANNEL_TYPES.get(info.modality, info.modality),
        }
        for i in range(info.channel_count)
    ]


def role_label(role: str, label: str) -> str:
    """A sensor channel's label in our files: it names the person (``patient ECG``), so two people's never clash."""
    return label if label.startswith(f"{role} ") else f"{role} {label}"


def without_role(role: str, labels: tuple[str, ...]) -> tuple[str, ...]:
    """The labels as the sensor gave them, from :func:`role_label`'s."""
    return tuple(label.removeprefix(f"{role} ") for label in labels)


def _first(value: Any) -> Any:
    """Unwrap pyxdf's one-element lists (``{"role": ["patient"]}``)."""
    while isinstance(value, list):
        value = value[0] if value else None
    return value
