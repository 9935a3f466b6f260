"""JSON on the wire: events as strict JSON that every browser can parse.

Processors may hand over numpy scalars or a non-finite float; JSON has no NaN,
so non-finite numbers become ``null`` and numpy values plain Python ones.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    return value


def to_json(message: dict[str, Any]) -> str:
    """Encode a message as strict, compact JSON."""
    return json.dumps(_plain(message), separators=(",", ":"), allow_nan=False)
