"""The top-level rooms import one way: sensors → stream ← perception, models below perception, service on top.

Each room is imported whole in a fresh interpreter (so nothing another test
loaded can hide a dependency) and what it pulled in is checked against what
it may not import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

ROOMS = ("stream", "xdf", "models", "sensors", "perception", "offline", "service", "client")

#: What each room may not import (directly or through what it imports).
FORBIDDEN = {
    "stream": {"xdf", "models", "sensors", "perception", "offline", "service", "client"},
    "xdf": {"models", "sensors", "perception", "offline", "service", "client"},
    "models": {"xdf", "sensors", "perception", "offline", "service", "client"},
    "sensors": {"models", "perception", "offline", "service", "client"},
    "perception": {"xdf", "sensors", "offline", "service", "client"},
    "offline": {"service", "client"},
    "service": set(),
    "client": {"stream", "xdf", "models", "sensors", "perception", "offline", "service"},
}

_PROBE = """
import importlib, json, pkgutil, sys
room = sys.argv[1]
package = importlib.import_module("dyadscope." + room)
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(module.name)
print(json.dumps(sorted({name.split(".")[1] for name in sys.modules
                         if name.startswith("dyadscope.") and name.count(".") >= 1})))
"""


def _rooms_loaded_by(room: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, room], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_every_room_is_listed():
    assert set(FORBIDDEN) == set(ROOMS)


@pytest.mark.parametrize("room", ROOMS)
def test_room_imports_flow_one_way(room):
    loaded = _rooms_loaded_by(room)
    assert room in loaded
    assert not loaded & FORBIDDEN[room], f"dyadscope.{room} imports {sorted(loaded & FORBIDDEN[room])}"
