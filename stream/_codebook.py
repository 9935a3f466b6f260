"""The shapes of the codebook (:mod:`dyadscope.stream.kinds`): a data field and an event kind."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TYPES = ("float", "int", "bool", "str", "list", "object")
_NULL = " | null"


@dataclass(frozen=True, slots=True)
class Field:
    """One data field of an event kind."""

    type: str
    unit: str | None
    meaning: str
    optional: bool = False

    def __post_init__(self) -> None:
        if self.type.removesuffix(_NULL) not in TYPES:
            raise ValueError(f"unknown field type {self.type!r}; expected one of {TYPES}, optionally {_NULL!r}")

    @property
    def nullable(self) -> bool:
        """Whether the value may be None."""
        return self.type.endswith(_NULL)

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` (as decoded from JSON) is of this field's type."""
        if value is None:
            return self.nullable
        base = self.type.removesuffix(_NULL)
        if base == "float":  # an int is a float that happens to be whole; NaN travels as None
            return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
        if base == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        return isinstance(value, {"bool": bool, "str": str, "list": (list, tuple), "object": dict}[base])


@dataclass(frozen=True, slots=True)
class Kind:
    """One event kind: what it says, who emits it, whether it is one person's, its data fields."""

    name: str
    meaning: str
    emitted_by: str
    role: bool
    fields: Mapping[str, Field] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "meaning": self.meaning,
            "role": self.role,
            "emitted_by": self.emitted_by,
            "fields": {
                name: {"type": f.type, "unit": f.unit, "meaning": f.meaning, "optional": f.optional}
                for name, f in self.fields.items()
            },
        }
