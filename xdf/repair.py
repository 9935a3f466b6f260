"""Close an unfinished XDF file: cut a torn last chunk and add the missing stream footers.

A recording that ended with ``kill -9``, a power cut or a full disk has whole
chunks up to shortly before the end, perhaps a torn chunk after them, and no
footers. :func:`repair` keeps every whole chunk, drops the torn tail and
appends a footer (first/last timestamp, sample count, clock offsets) for every
stream that lacks one, so the file reads like one closed normally.
:func:`find_unfinished` lists the files below a folder that need it, skipping
files a live recorder still holds (it keeps an exclusive ``flock``);
:func:`repair` itself refuses such a file. :func:`repair_each` repairs
files one by one, so a damaged one is reported and skipped, never stopping
the rest.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

import dyadscope.xdf.writer as xw

logger = logging.getLogger(__name__)

_STREAM_TAGS = {xw.Tag.STREAM_HEADER, xw.Tag.SAMPLES, xw.Tag.CLOCK_OFFSET, xw.Tag.STREAM_FOOTER}


class XdfFormatError(ValueError):
    """The file is not XDF at all (no magic bytes)."""


class FileInUseError(RuntimeError):
    """A live recorder holds the file: repairing it would corrupt the recording."""


@dataclass(frozen=True)
class RawChunk:
    """One whole chunk as framed in the file; ``content`` excludes the stream id."""

    tag: int
    stream_id: int | None
    content: bytes
    end: int  # file offset just after the chunk


def _read_varlen(data: bytes, pos: int) -> tuple[int, int] | None:
    """(value, new position), or None if the bytes end or the width byte is invalid."""
    if pos >= len(data):
        return None
    width = data[pos]
    if width not in (1, 4, 8) or pos + 1 + width > len(data):
        return None
    return int.from_bytes(data[pos + 1 : pos + 1 + width], "little"), pos + 1 + width


def scan_chunks(f: BinaryIO, skip_tags: frozenset[int] = frozenset()) -> Iterator[RawChunk]:
    """Every whole chunk of an open XDF file, stopping quietly at a torn or invalid one.

    Contents of chunks whose tag is in ``skip_tags`` are not read (``b""``).
    """
    if f.read(4) != xw.MAGIC:
        raise XdfFormatError("not an XDF file (no 'XDF:' magic bytes)")
    size = os.fstat(f.fileno()).st_size
    pos = 4
    while True:
        head = f.read(9)
        length = _read_varlen(head, 0)
        if length is None:
            return
        nbytes, after = length
        start = pos + after  # first byte of the tag
        if nbytes < 2 or start + nbytes > size:
            return
        f.seek(start)
        tag = struct.unpack("<H", f.read(2))[0]
        if tag not in xw.Tag.__members__.values():
            return
        stream_id = None
        body = nbytes - 2
        if tag in _STREAM_TAGS:
            if body < 4:
                return
            stream_id = struct.unpack("<I", f.read(4))[0]
            body -= 4
        if tag in skip_tags:
            content = b""
            f.seek(body, os.SEEK_CUR)
        else:
            content = f.read(body)
        pos = start + nbytes
        yield RawChunk(tag, stream_id, content, pos)


def sample_stamps(content: bytes, channel_format: str, channel_count: int, last: float, tdiff: float) -> np.ndarray:
    """The timestamps of a Samples chunk's content (after the stream id).

    Samples without a stamp get the previous one plus ``tdiff`` (1/rate), as
    the XDF readers do; ``last`` is the stream's last stamp before this chunk.
    """
    count, pos = _read_varlen(content, 0) or (0, 0)
    if channel_format != "string":
        itemsize = xw.NUMERIC_DTYPES[channel_format].itemsize * channel_count
        if len(content) - pos == count * (9 + itemsize):  # every sample stamped: one vectorised view
            rows = np.frombuffer(content, np.uint8, count * (9 + itemsize), pos).reshape(count, 9 + itemsize)
            if np.all(rows[:, 0] == 8):
                return rows[:, 1:9].copy().view("<f8").ravel()
    stamps = np.empty(count)
    for k in range(count):
        if content[pos] == 8:
            last = struct.unpack_from("<d", content, pos + 1)[0]
            pos += 9
        else:
            last += tdiff
            pos += 1
        if channel_format == "string":
            for _ in range(channel_count):
                length, pos = _read_varlen(content, pos)
                pos += length
        else:
            pos += itemsize
        stamps[k] = last
    return stamps


@dataclass
class _StreamState:
    channel_format: str
    channel_count: int
    tdiff: float
    tally: xw.FooterTally = field(default_factory=xw.FooterTally)
    has_footer: bool = False


@dataclass(frozen=True)
class RepairReport:
    """What :func:`repair` did."""

    path: Path
    bytes_dropped: int
    footers_added: tuple[int, ...]

    @property
    def changed(self) -> bool:
        """Whether the file needed anything."""
        return bool(self.bytes_dropped or self.footers_added)


def _header_state(content: bytes) -> _StreamState:
    root = ET.fromstring(content)
    rate = float(root.findtext("nominal_srate") or 0)
    return _StreamState(
        channel_format=root.findtext("channel_format") or "float32",
        channel_count=int(root.findtext("channel_count") or 1),
        tdiff=1.0 / rate if rate > 0 else 0.0,
    )


def _inspect(f: BinaryIO) -> tuple[dict[int, _StreamState], int]:
    streams: dict[int, _StreamState] = {}
    end = 4
    for chunk in scan_chunks(f, skip_tags=frozenset({xw.Tag.BOUNDARY})):
        state = streams.get(chunk.stream_id) if chunk.stream_id is not None else None
        if chunk.tag == xw.Tag.STREAM_HEADER:
            streams[chunk.stream_id] = _header_state(chunk.content)
        elif chunk.tag == xw.Tag.SAMPLES and state is not None:
            last = state.tally.last
            state.tally.add_samples(
                sample_stamps(chunk.content, state.channel_format, state.channel_count, last, state.tdiff)
            )
        elif chunk.tag == xw.Tag.CLOCK_OFFSET and state is not None:
            state.tally.offsets.append(struct.unpack("<dd", chunk.content))
        elif chunk.tag == xw.Tag.STREAM_FOOTER and state is not None:
            state.has_footer = True
        end = chunk.end
    return streams, end


@dataclass(frozen=True)
class RepairFailure:
    """A file that could not be repaired, and why (``reason``: the error's kind and message)."""

    path: Path
    reason: str


def repair(path: Path | str) -> RepairReport:
    """Make ``path`` a closed XDF file: drop a torn tail, add missing footers, ``fsync``.

    Raises :class:`FileInUseError` if a live recorder holds the file, and
    whatever reading a damaged file raises (the file is then left as it was).
    """
    path = Path(path)
    with open(path, "r+b") as f:
        try:  # the recorder holds an exclusive flock while it writes; so do we while we repair
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            message = f"{path} is being recorded (a live recorder holds it); stop that recording first"
            raise FileInUseError(message) from None
        streams, end = _inspect(f)
        size = os.fstat(f.fileno()).st_size
        f.truncate(end)
        f.seek(end)
        added = []
        for stream_id, s in streams.items():
            if not s.has_footer:
                f.write(s.tally.footer_chunk(stream_id))
                added.append(stream_id)
        f.flush()
        os.fsync(f.fileno())
    report = RepairReport(path, size - end, tuple(added))
    if report.changed:
        logger.info("repaired %s: dropped %d torn bytes, closed streams %s", path, size - end, added)
    return report


def is_unfinished(path: Path | str) -> bool:
    """Whether a stream of ``path`` lacks its footer or the file ends in a torn chunk."""
    with open(path, "rb") as f:
        headers, footers, end = set(), set(), 4
        for chunk in scan_chunks(f, skip_tags=frozenset({xw.Tag.SAMPLES, xw.Tag.BOUNDARY, xw.Tag.CLOCK_OFFSET})):
            if chunk.tag == xw.Tag.STREAM_HEADER:
                headers.add(chunk.stream_id)
            elif chunk.tag == xw.Tag.STREAM_FOOTER:
                footers.add(chunk.stream_id)
            end = chunk.end
        return headers != footers or end != os.fstat(f.fileno()).st_size


def _held_by_recorder(path: Path) -> bool:
    with open(path, "rb") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return False


def find_unfinished(root: Path | str) -> list[Path]:
    """XDF files below ``root`` that need :func:`repair` and no live recorder is writing."""
    found = []
    for path in sorted(Path(root).rglob("*.xdf")):
        try:
            if not _held_by_recorder(path) and is_unfinished(path):
                found.append(path)
        except (OSError, XdfFormatError) as exc:
            logger.warning("cannot inspect %s (%s); skipped", path, exc)
    return found


def repair_each(paths: Iterable[Path | str]) -> tuple[list[RepairReport], list[RepairFailure]]:
    """Repair each file on its own: what was done, and the files that could not be repaired.

    A damaged file can fail the reading in many ways (a header that is not
    XML, an unknown channel format, a chunk cut short: ParseError, KeyError,
    struct.error, IndexError ...); each failure is logged with the file and
    why, that file is left as it was, and the others are still repaired.
    """
    reports, failures = [], []
    for path in paths:
        try:
            reports.append(repair(path))
        except Exception as exc:  # one damaged file must not stop the others (nor the service's start)
            failure = RepairFailure(Path(path), f"{type(exc).__name__}: {exc}")
            logger.warning("cannot repair %s (%s); skipped", failure.path, failure.reason)
            failures.append(failure)
    return reports, failures


def repair_unfinished(root: Path | str) -> list[RepairReport]:
    """Repair every unfinished recording below ``root`` (what the service does on start).

    Returns what was repaired; a file that cannot be repaired is logged and
    skipped (use :func:`repair_each` with :func:`find_unfinished` to get those too).
    """
    return repair_each(find_unfinished(root))[0]
