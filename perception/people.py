"""Which person a camera sees, and which face or region belongs to whom.

By default each camera films one person: its largest face is that person's.
A camera that films both people is split left/right: the face (and movement
region) on the left of the image belongs to ``roles[0]``, the right one to
``roles[1]``; swap the roles to swap the sides.
"""

from __future__ import annotations

from dataclasses import dataclass

from dyadscope.perception.face_track import Track
from dyadscope.stream.types import ROLES, Role


@dataclass(frozen=True)
class CameraView:
    """The people a camera sees: one role, or two roles ordered left to right."""

    roles: tuple[Role, ...]

    def __post_init__(self) -> None:
        if len(self.roles) not in (1, 2) or any(r not in ROLES for r in self.roles):
            raise ValueError(f"a camera sees one or two of {ROLES}, got {self.roles}")
        if len(set(self.roles)) != len(self.roles):
            raise ValueError(f"roles must differ, got {self.roles}")

    @property
    def shared(self) -> bool:
        """Whether the camera films both people."""
        return len(self.roles) == 2

    def regions(self, width: int) -> dict[Role, tuple[int, int]]:
        """Each person's horizontal span of the image, in pixels [start, stop)."""
        if not self.shared:
            return {self.roles[0]: (0, width)}
        half = width // 2
        return {self.roles[0]: (0, half), self.roles[1]: (half, width)}

    def assign(self, tracks: list[Track], width: int, current: dict[Role, Track] | None = None) -> dict[Role, Track]:
        """Each visible person's face: the one they had, else the largest face in their region.

        Keeping the face a person already had stops a brief false detection
        from taking their place; tracks missed at the last detection count
        as not visible.
        """
        current = current or {}
        assigned: dict[Role, Track] = {}
        for role, (start, stop) in self.regions(width).items():
            inside = [t for t in tracks if t.missed == 0 and start <= t.box[0] + t.box[2] / 2 < stop]
            kept = [t for t in inside if role in current and t.id == current[role].id]
            if kept or inside:
                assigned[role] = kept[0] if kept else max(inside, key=lambda t: t.box[2] * t.box[3])
        return assigned
