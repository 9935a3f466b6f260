"""Shared helpers for the recording, replay and export tests: small disks."""

from __future__ import annotations

import subprocess
from pathlib import Path


def mount_tmpfs(where: Path, options: str) -> bool:
    """Mount a tmpfs with ``options`` (e.g. ``size=128k``) on a new folder ``where``; False if not allowed here."""
    where.mkdir(parents=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    return result.returncode == 0


def unmount(where: Path) -> None:
    """Detach a tmpfs mounted by :func:`mount_tmpfs` (lazily: open files may still be closing)."""
    subprocess.run(["umount", "-l", str(where)], check=True)
