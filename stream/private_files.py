"""Files only for their owner: folders 0700, files 0600.

Recordings, the within-person history and exports hold patient data, so
nothing DyadScope creates is readable by other users of the machine, whatever
the process's umask. (The command line also sets the umask to ``077``, so
files other libraries create for us, such as SQLite's journal, are private
too.)
"""

from __future__ import annotations

import os
from pathlib import Path

#: Permissions of what DyadScope creates.
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents as 0700 folders (existing ones are left as they are)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)  # mkdir's mode is masked by the umask
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Write ``path`` as a 0600 file (in a private folder), replacing it atomically: never half-written."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as a 0600 file if it does not exist yet; ``path``."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    return path
