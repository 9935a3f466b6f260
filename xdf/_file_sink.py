"""The recorder's bytes on their way to disk: one exclusive file, written whole, cut back on failure.

:class:`FileSink` holds what waits for the disk and writes it with one
``os.write`` loop and ``os.fsync``; after a failed write it cuts the file back
to the last whole chunk, so the file stays readable. It keeps no lock of its
own: :class:`~dyadscope.xdf.recorder.Recorder` calls everything but
:meth:`FileSink.write_through` under its lock, and one write at a time.
The recording errors live here too, where the :class:`OSError` they stand
for is raised.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from collections.abc import Callable
from pathlib import Path

from dyadscope.stream.private_files import FILE_MODE, private_dir

logger = logging.getLogger("dyadscope.xdf.recorder")  # what it says is the recorder's news

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_BEHIND_WARNING_INTERVAL = 10.0  # s; how often a recorder that stays behind says so again


class RecordingError(Exception):
    """Recording stopped; what was written before stays readable."""


class DiskFullError(RecordingError):
    """The disk (or the file-size limit) is full."""


class UnwritableError(RecordingError):
    """The recording file or its directory cannot be created or written."""


def classify(exc: OSError, path: Path, doing: str) -> RecordingError:
    """The recording error an ``OSError`` while ``doing`` something to ``path`` stands for."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno in _DISK_FULL:
        return DiskFullError(f"disk full while {doing} {path} ({reason}); recording stopped, file kept")
    return UnwritableError(f"cannot write: {doing} {path} failed ({reason}); recording stopped")


def open_exclusive(path: Path) -> int:
    """Create ``path`` for writing, never replacing an existing file; hold an exclusive ``flock`` on it."""
    try:
        private_dir(path.parent)
    except OSError as exc:  # includes a file standing where a folder should be
        raise classify(exc, path.parent, "creating the folder for") from exc
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        raise
    except OSError as exc:
        raise classify(exc, path, "creating") from exc
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # marks the file as being recorded
    return fd


class FileSink:
    """What waits for the disk, and the file it goes to.

    Past ``max_pending_bytes`` waiting (or being written) the sink is behind:
    it says so in a warning at most every ``_BEHIND_WARNING_INTERVAL`` seconds
    of ``clock``, and once when it has caught up; nothing is ever dropped.
    """

    def __init__(self, path: Path, max_pending_bytes: int, clock: Callable[[], float]):
        self.path = path
        self.max_pending_bytes = max_pending_bytes
        self._clock = clock
        self._fd = open_exclusive(path)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._writing = 0  # bytes taken from the pending buffer and not yet on disk
        self._committed = 0  # bytes on disk, whole chunks only
        self._behind_since_warning: float | None = None  # when it last said it is behind (None: not behind)

    @property
    def written_bytes(self) -> int:
        """Bytes on disk, whole chunks only."""
        return self._committed

    @property
    def waiting_bytes(self) -> int:
        """Bytes not yet on disk (waiting, or being written)."""
        return self._pending_bytes + self._writing

    def append(self, data: bytes) -> bool:
        """Queue whole chunks for the disk; True when more than ``max_pending_bytes`` wait (write now)."""
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self.waiting_bytes > self.max_pending_bytes:
            self._say_behind()
        return self._pending_bytes > self.max_pending_bytes

    def _say_behind(self) -> None:
        now = self._clock()
        if self._behind_since_warning is not None and now - self._behind_since_warning < _BEHIND_WARNING_INTERVAL:
            return
        self._behind_since_warning = now
        logger.warning(
            "recording %s is behind: %.1f MB wait for the disk, which is slower than the data; "
            "nothing is dropped, it is kept in memory until the disk catches up",
            self.path, self.waiting_bytes / 1e6,
        )  # fmt: skip

    def take(self) -> bytes:
        """Everything waiting, to be written next (it counts as being written until :meth:`written`)."""
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        self._writing = len(data)
        return data

    def written(self) -> None:
        """A write has ended: its bytes no longer wait; say when the sink has caught up."""
        self._writing = 0
        if self._behind_since_warning is not None and self._pending_bytes <= self.max_pending_bytes:
            self._behind_since_warning = None
            logger.info("recording %s has caught up with the disk", self.path)

    def write_through(self, data: bytes) -> None:
        """Write ``data`` and ``fsync`` it (raises the ``OSError``); one call at a time, without the lock."""
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)
        self._committed += len(data)

    def drop_pending(self) -> None:
        """Forget what waits (recording has stopped)."""
        self._pending.clear()
        self._pending_bytes = 0

    def cut_back(self) -> None:
        """Cut the file back to its last whole chunk (after a failed write); logs if even that fails."""
        try:
            os.ftruncate(self._fd, self._committed)
            os.fsync(self._fd)
        except OSError:
            logger.exception("could not cut %s back to its last whole chunk", self.path)

    def close(self) -> None:
        """Close the file (and so release its ``flock``)."""
        os.close(self._fd)
