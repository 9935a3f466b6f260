"""Streams whose clocks disagree: found, aligned on their clock offsets where these say how, else left out.

pyxdf puts every stream on the recording's clock with the clock offsets the
file holds. Where a stream has none, or pyxdf cannot fit them ("Clock offsets
... cannot be used"), the stream stays on its sender's own clock -- another
machine's LSL clock can be days away -- and a marker stream on it would make
an analysis replay the signals days late and a figure's time axis span days.

:func:`on_one_clock` groups the streams by time span: spans that overlap or
lie within :data:`MAX_GAP_S` of each other are on one clock. The group with
the most numeric streams (then the most samples) is the recording; a stream
outside it is moved by the median of its recorded clock offsets (applied to
its raw timestamps) when that brings it into the group, and is otherwise left
out. Either way the result says so, once, in :attr:`Recording.notes`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from dyadscope.xdf.reader import RecordedStream, Recording

#: Streams whose time spans are further apart than this (s) are on clocks that disagree.
MAX_GAP_S = 300.0


def _span(stream: RecordedStream) -> tuple[float, float]:
    """Earliest and latest timestamp (s); min and max, as a clock reset can leave them out of order."""
    return float(np.min(stream.timestamps)), float(np.max(stream.timestamps))


def _gap(span: tuple[float, float], group: tuple[float, float]) -> float:
    """Seconds between two spans (0 where they overlap); signed: < 0 when ``span`` lies before ``group``."""
    if span[1] < group[0]:
        return span[1] - group[0]
    return max(0.0, span[0] - group[1])


def _groups(streams: list[RecordedStream], max_gap_s: float) -> list[list[RecordedStream]]:
    """Streams with samples, grouped: spans within ``max_gap_s`` of each other share a group."""
    groups: list[list[RecordedStream]] = []
    end = -np.inf
    for stream in sorted(streams, key=lambda s: _span(s)[0]):
        first, last = _span(stream)
        if not groups or first > end + max_gap_s:
            groups.append([])
            end = -np.inf
        groups[-1].append(stream)
        end = max(end, last)
    return groups


def _weight(group: list[RecordedStream]) -> tuple[int, int]:
    return sum(s.info.channel_format != "string" for s in group), sum(len(s) for s in group)


def _by_offsets(stream: RecordedStream) -> RecordedStream | None:
    """The stream moved by the median of its recorded clock offsets; None without offsets or raw stamps."""
    if not len(stream.clock_offsets) or len(stream.raw_timestamps) != len(stream):
        return None
    return replace(stream, timestamps=stream.raw_timestamps + float(np.median(stream.clock_offsets[:, 1])))


def _days(seconds: float) -> str:
    return f"{seconds / 86400:.1f} days" if abs(seconds) >= 86400 else f"{seconds / 3600:.1f} h"


def on_one_clock(recording: Recording, max_gap_s: float = MAX_GAP_S) -> Recording:
    """``recording`` with every stream on one clock: disagreeing ones aligned or left out, each with a note.

    A recording whose streams agree comes back as it is.
    """
    timed = [s for s in recording.streams if len(s)]
    groups = _groups(timed, max_gap_s)
    if len(groups) <= 1:
        return recording
    main = max(groups, key=_weight)
    span = (min(_span(s)[0] for s in main), max(_span(s)[1] for s in main))
    moved: dict[int, RecordedStream | None] = {}
    notes = []
    for stream in (s for group in groups if group is not main for s in group):
        gap = _gap(_span(stream), span)
        where = f"stream '{stream.info.name}' lies {_days(abs(gap))} {'before' if gap < 0 else 'after'} the others"
        aligned = _by_offsets(stream)
        if aligned is not None and abs(_gap(_span(aligned), span)) <= max_gap_s:
            moved[stream.stream_id] = aligned
            offset = float(np.median(stream.clock_offsets[:, 1]))
            notes.append(f"{where}: aligned by its recorded clock offsets ({offset:+.3f} s)")
        else:
            moved[stream.stream_id] = None
            notes.append(f"{where} and its clock offsets do not bring it closer: left out")
    streams = [moved.get(s.stream_id, s) for s in recording.streams]
    kept = [s for s in streams if s is not None]
    return replace(recording, streams=kept, notes=(*recording.notes, f"clocks disagree: {'; '.join(notes)}"))
