"""Shared helper for the recording, replay and export tests: the CLI with only our verbs."""

from __future__ import annotations

import pytest

from dyadscope.service import cli

OUR_VERBS = ("record", "repair", "replay", "export")


@pytest.fixture
def only_our_verbs(monkeypatch) -> None:
    """The real ``main``, parsing only our verbs (other verbs' modules may not exist in this checkout yet)."""
    assert set(OUR_VERBS) <= set(cli.VERBS)
    monkeypatch.setattr(cli, "VERBS", OUR_VERBS)
