"""Shared helpers for the recording, replay and export tests: the CLI with only our verbs, small disks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dyadscope.service import cli

OUR_VERBS = ("record", "repair", "replay", "export")


@pytest.fixture
def only_our_verbs(monkeypatch) -> None:
    """The real ``main``, parsing only our verbs (other verbs' modules may not exist in this checkout yet)."""
    assert set(OUR_VERBS) <= set(cli.VERBS)
    monkeypatch.setattr(cli, "VERBS", OUR_VERBS)


def mount_tmpfs(where: Path, options: str) -> bool:
    """Mount a tmpfs with ``options`` (e.g. ``size=128k``) on a new folder ``where``; False if not allowed here."""
    where.mkdir(parents=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    return result.returncode == 0


def unmount(where: Path) -> None:
    """Detach a tmpfs mounted by :func:`mount_tmpfs` (lazily: open files may still be closing)."""
    subprocess.run(["umount", "-l", str(where)], check=True)
