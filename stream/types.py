"""Core data types: stream descriptions, chunks of samples, features and events.

Everything that moves through DyadScope is one of these. A sensor produces
:class:`Chunk` objects on the session clock; a processor turns chunks into
:class:`Feature` objects; the session stamps each feature with a sequence
number and the emit time, which makes it an :class:`Event`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Role = Literal["patient", "therapist"]
ROLES: tuple[Role, ...] = ("patient", "therapist")

#: LSL channel formats, by the names LSL and XDF use.
CHANNEL_FORMATS = ("float32", "double64", "string", "int8", "int16", "int32", "int64")


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a stream is: the LSL stream header plus who and what it measures.

    ``modality`` is the LSL ``type`` (``"ECG"``, ``"RSP"``, ``"EDA"`` ...).
    ``role`` is the person it belongs to, or ``None`` while unassigned.
    ``nominal_rate`` is 0 for irregular streams (markers, per-segment values).
    """

    name: str
    modality: str
    channel_count: int
    nominal_rate: float
    channel_format: str = "float32"
    source_id: str = ""
    hostname: str = ""
    role: Role | None = None
    channel_labels: tuple[str, ...] = ()
    units: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """A stable identity: the source_id when the sender set one, else the name."""
        return self.source_id or self.name

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (for events, listings and file headers)."""
        return {
            "name": self.name,
            "modality": self.modality,
            "role": self.role,
            "channel_count": self.channel_count,
            "nominal_rate": self.nominal_rate,
            "channel_format": self.channel_format,
            "source_id": self.source_id,
            "hostname": self.hostname,
            "channel_labels": list(self.channel_labels),
            "units": list(self.units),
        }


@dataclass(frozen=True, slots=True)
class Chunk:
    """A block of consecutive samples from one stream.

    ``timestamps`` has shape ``(n,)`` in seconds on the session clock;
    ``values`` has shape ``(n, channel_count)``.
    """

    info: StreamInfo
    timestamps: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.timestamps.ndim != 1:
            raise ValueError(f"timestamps must be 1-D, got shape {self.timestamps.shape}")
        if self.values.ndim != 2 or self.values.shape[0] != self.timestamps.shape[0]:
            raise ValueError(
                f"values must be (n, channels) with n={self.timestamps.shape[0]}, got shape {self.values.shape}"
            )

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])


@dataclass(frozen=True, slots=True)
class Feature:
    """What a processor emits: a measure (or status) at session time ``t``."""

    kind: str
    role: Role | None
    t: float
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    """A feature as the session logged it.

    ``seq`` increases by one per session; ``t`` is the session-clock time of
    the data it describes; ``t_emit`` is the wall-clock time (Unix seconds) at
    which it left the processor.
    """

    session: str
    seq: int
    t: float
    t_emit: float
    kind: str
    role: Role | None
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The wire form: the JSON object sent over websockets and written to logs."""
        return {
            "session": self.session,
            "seq": self.seq,
            "t": self.t,
            "t_emit": self.t_emit,
            "kind": self.kind,
            "role": self.role,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Event:
        """Read back the wire form."""
        return cls(
            session=obj["session"],
            seq=int(obj["seq"]),
            t=float(obj["t"]),
            t_emit=float(obj["t_emit"]),
            kind=obj["kind"],
            role=obj.get("role"),
            data=dict(obj.get("data") or {}),
        )
