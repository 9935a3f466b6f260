"""Saved rig profiles: a room's stream selection under a name, in ``<data_dir>/rigs/NAME.json`` (0600).

A profile is a :class:`~dyadscope.stream.selection.StreamSelection` as JSON,
e.g. ``{"streams": ["host:room2-*"], "assign": ["Polar H10 A1=patient:ECG"],
"required": ["patient:ECG", "therapist:ECG"]}``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from dyadscope.stream.private_files import write_private
from dyadscope.stream.selection import SelectionError, StreamSelection

PROFILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ProfileMissing(LookupError):
    """No profile of that name."""


class RigProfiles:
    """The rig profiles below ``data_dir``."""

    def __init__(self, data_dir: Path):
        self.folder = Path(data_dir) / "rigs"

    def _path(self, name: str) -> Path:
        if not PROFILE_NAME.fullmatch(name):
            raise SelectionError("a rig profile's name is 1-64 letters, digits, '_' or '-'")
        return self.folder / f"{name}.json"

    def names(self) -> list[str]:
        """The saved profiles' names, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if PROFILE_NAME.fullmatch(p.stem))

    def load(self, name: str) -> StreamSelection:
        """The profile ``name``; :class:`ProfileMissing`, or :class:`SelectionError` for a malformed file."""
        path = self._path(name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ProfileMissing(f"no rig profile {name!r}") from None
        except (OSError, ValueError) as exc:
            raise SelectionError(f"rig profile {name!r} cannot be read: {type(exc).__name__}") from None
        return StreamSelection.from_json(data)

    def save(self, name: str, selection: StreamSelection) -> Path:
        """Save (or replace) the profile ``name``."""
        text = json.dumps(selection.to_json(), indent=2) + "\n"
        return write_private(self._path(name), text.encode("utf-8"))
