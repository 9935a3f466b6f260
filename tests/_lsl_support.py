"""Shared helper of the tests on real LSL streams: waiting for what other threads and processes do."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def wait_for(condition: Callable[[], Any], timeout: float = 8.0, what: str = "condition not met") -> Any:
    """Poll until ``condition()`` is truthy and return it; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"{what} (within {timeout} s)")
