"""Deciding who and what a stream measures, from its LSL header.

Pure functions shared by live LSL ingest and offline reading of XDF files.
They take a stream header in the nested-dict shape pyxdf gives for
``stream["info"]`` (every child element a list, leaves as text; plain strings
work too), which is also what :func:`header_from_xml` makes of pylsl's
``StreamInfo.as_xml()``.

* **Modality** comes from the LSL ``type``, normalised: ``ECG`` (also EKG),
  ``RSP`` (also Resp, Respiration, Breathing), ``EDA`` (also GSR),
  ``Movement`` (also Motion, MotionEnergy, MEA), ``ACC`` (also Accel,
  Accelerometer); other types are kept as given.
* **Role** comes from ``<desc><role>`` (``patient`` or ``therapist``), else
  from the word "patient" or "therapist" in the stream name (case-insensitive;
  a name with both words decides nothing).
* **Overrides** from configuration, ``"STREAM=role"`` or
  ``"STREAM=role:modality"``, where STREAM is a stream's name or source_id,
  win over both.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from dyadscope.stream.types import ROLES, Role, StreamInfo

#: LSL types (upper case) and the modality each stands for.
MODALITY_ALIASES: dict[str, str] = {
    "ECG": "ECG",
    "EKG": "ECG",
    "RSP": "RSP",
    "RESP": "RSP",
    "RESPIRATION": "RSP",
    "BREATHING": "RSP",
    "EDA": "EDA",
    "GSR": "EDA",
    "MOVEMENT": "Movement",
    "MOTION": "Movement",
    "MOTIONENERGY": "Movement",
    "MEA": "Movement",
    "ACC": "ACC",
    "ACCEL": "ACC",
    "ACCELEROMETER": "ACC",
}


class AssignmentError(ValueError):
    """A stream assignment in the configuration cannot be understood."""


@dataclass(frozen=True, slots=True)
class Override:
    """A configured assignment: the stream named (or with source_id) ``stream`` is ``role``'s ``modality``."""

    stream: str
    role: Role
    modality: str | None = None  # None: keep the modality its type gives

    def matches(self, info: StreamInfo) -> bool:
        """Whether this override is about ``info`` (by name or source_id)."""
        return self.stream in (info.name, info.source_id)


def normalize_modality(lsl_type: str | None) -> str | None:
    """The modality an LSL ``type`` stands for; None for an empty type."""
    text = (lsl_type or "").strip()
    if not text:
        return None
    return MODALITY_ALIASES.get(text.upper(), text)


def parse_override(text: str) -> Override:
    """Parse ``"STREAM NAME=role"`` or ``"STREAM NAME=role:modality"``."""
    stream, sep, target = text.rpartition("=")
    stream = stream.strip()
    if not sep or not stream:
        raise AssignmentError(f"stream assignment {text!r} is not of the form 'STREAM NAME=role:modality'")
    role_text, _, modality_text = target.partition(":")
    role = role_text.strip().lower()
    if role not in ROLES:
        raise AssignmentError(
            f"stream assignment {text!r}: role {role_text.strip()!r} is not one of {', '.join(ROLES)}"
        )
    modality = normalize_modality(modality_text)
    if modality_text and modality is None:
        raise AssignmentError(f"stream assignment {text!r}: the modality after ':' is empty")
    return Override(stream, cast(Role, role), modality)


def parse_overrides(texts: Iterable[str]) -> tuple[Override, ...]:
    """Parse every configured assignment (see :func:`parse_override`)."""
    return tuple(parse_override(text) for text in texts)


def header_from_xml(xml: str) -> dict[str, Any]:
    """A stream header (``<info>`` XML, as pylsl's ``as_xml()`` gives) in pyxdf's dict shape."""
    root = ET.fromstring(xml)
    return _element_to_dict(root)[root.tag]


def _element_to_dict(element: ET.Element) -> dict[str, Any]:
    children: dict[str, list[Any]] = {}
    for child in element:
        for tag, value in _element_to_dict(child).items():
            children.setdefault(tag, []).append(value)
    return {element.tag: children or element.text}


def _text(value: Any) -> str:
    """The text of a header field, unwrapping pyxdf's one-element lists."""
    while isinstance(value, list):
        value = value[0] if value else None
    return "" if value is None else str(value).strip()


def _child(node: Any, name: str) -> Any:
    """A child of a header node (dict, or pyxdf's list around one)."""
    while isinstance(node, list):
        node = node[0] if node else None
    return node.get(name) if isinstance(node, Mapping) else None


def _channel_field(desc: Any, field: str) -> tuple[str, ...]:
    channels = _child(_child(desc, "channels"), "channel") or []
    if isinstance(channels, Mapping):
        channels = [channels]
    return tuple(_text(_child(channel, field)) for channel in channels)


def describe(header: Mapping[str, Any]) -> StreamInfo:
    """The stream as a :class:`StreamInfo`, role not yet decided."""
    desc = header.get("desc")
    rate = _text(header.get("nominal_srate")) or "0"
    return StreamInfo(
        name=_text(header.get("name")),
        modality=normalize_modality(_text(header.get("type"))) or "",
        channel_count=int(float(_text(header.get("channel_count")) or 0)),
        nominal_rate=float(rate),
        channel_format=_text(header.get("channel_format")) or "float32",
        source_id=_text(header.get("source_id")),
        hostname=_text(header.get("hostname")),
        channel_labels=_channel_field(desc, "label"),
        units=_channel_field(desc, "unit"),
    )


def role_of(name: str, desc: Any) -> Role | None:
    """The role a stream's ``<desc><role>`` or name gives, or None."""
    declared = _text(_child(desc, "role")).lower()
    if declared in ROLES:
        return cast(Role, declared)
    found = [role for role in ROLES if role in name.lower()]
    return found[0] if len(found) == 1 else None


def assign(header: Mapping[str, Any], overrides: Iterable[Override] = ()) -> StreamInfo | None:
    """The stream with role and modality decided, or None if either stays unknown."""
    info = describe(header)
    role = role_of(info.name, header.get("desc"))
    modality: str | None = info.modality or None
    for override in overrides:
        if override.matches(info):
            role = override.role
            modality = override.modality or modality
    if role is None or modality is None:
        return None
    return replace(info, role=role, modality=modality)
