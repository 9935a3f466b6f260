"""Offline analysis: a recording through the live pipeline, as fast as the CPU allows.

The very same processors as a live session (:func:`default_pipeline`) see the
recording's chunks in time order across streams, as they would have arrived
live, so offline gives the same numbers as live. What the pipeline cannot
recompute from samples -- the research assistant's actions (baseline start,
markers) and the face and voice features of the media pipelines -- is taken
from the recording's event log and fed in at its time.

A recording's marker streams (LabRecorder's, or any string stream that is
not our event log) become ``marker`` events at their times. Streams on clocks
that disagree are aligned on their clock offsets or left out
(:func:`~dyadscope.xdf.clocks.on_one_clock`), and the result says so once.

Outputs, in ``out``:

* ``events.jsonl`` -- every event, one JSON object per line, as on the websocket;
* ``<kind>.csv`` -- one table per kind of measure, with its data dictionary
  ``<kind>.json`` beside it, in the vocabulary ``dyadscope export`` uses
  (:mod:`dyadscope.offline.export.tables`);
* ``summary.json`` -- the streams used and skipped (and why), what the file
  needed said (``notes``), per-person and per-dyad session summaries and
  events per kind (:mod:`dyadscope.offline.summary`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dyadscope.offline.export.common import events as logged_events
from dyadscope.offline.export.common import is_derived, is_events, is_markers, marker_events
from dyadscope.offline.export.tables import Timeline, timeline, write_measure_tables
from dyadscope.offline.summary import write_summary
from dyadscope.stream import kinds
from dyadscope.stream.events import EventStamper
from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.processors.registry import default_pipeline
from dyadscope.stream.types import Chunk, Feature, StreamInfo
from dyadscope.stream.wire import to_json
from dyadscope.xdf.clocks import on_one_clock
from dyadscope.xdf.reader import RecordedStream, Recording, merged_chunks

#: Logged kinds that come from outside the pipeline and are fed back into it.
INPUT_KINDS = frozenset(
    {kinds.BASELINE_START, kinds.MARKER, kinds.FACE_AFFECT, kinds.FACE_TRACKED, kinds.VOICE_SEGMENT, kinds.MOVEMENT}
)


class AnalysisError(ValueError):
    """A recording that cannot be analysed (nothing assignable, unreadable)."""


@dataclass(frozen=True)
class StreamUse:
    """What analysis did with one stream of the recording, and why."""

    name: str
    modality: str
    role: str | None
    samples: int
    used: bool
    reason: str


@dataclass
class AnalysisResult:
    """What :func:`analyze` wrote and found."""

    out: Path
    streams: list[StreamUse]
    events: Counter = field(default_factory=Counter)
    tables: list[str] = field(default_factory=list)
    #: What the user must be told about the file (clocks that disagree), one line each.
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """``summary.json``'s own fields (the session summaries follow them)."""
        return {"streams": [asdict(s) for s in self.streams], "notes": list(self.notes), "tables": self.tables}


def plan(recording: Recording, pipeline: Pipeline) -> tuple[list[RecordedStream], list[StreamUse]]:
    """The streams the pipeline can use, and a verdict with a reason for every stream."""
    used, uses = [], []
    for stream in recording.streams:
        info = stream.info
        if is_events(stream):
            verdict = (False, "event log: research assistant and media inputs are replayed from it")
        elif is_derived(stream):
            verdict = (False, "derived measure: recomputed")
        elif not len(stream):
            verdict = (False, "no samples")
        elif is_markers(stream):
            verdict = (True, "markers: kept as marker events (marker.csv), no role needed")
        elif info.role is None:
            verdict = (False, f"no role: assign it with --assign '{info.name}=patient:{info.modality or 'ECG'}'")
        else:
            verdict = _verdict(pipeline, info)
        if verdict[0] and not is_markers(stream):
            used.append(stream)
        uses.append(StreamUse(info.name, info.modality, info.role, len(stream), *verdict))
    return used, uses


def _verdict(pipeline: Pipeline, info: StreamInfo) -> tuple[bool, str]:
    """Whether the pipeline has processors for an assigned stream, and why not."""
    try:
        processors = pipeline.processors_for(info)
    except ValueError as exc:  # e.g. a sample rate the processors cannot work at
        return False, f"its processors refuse it: {exc}"
    if not processors:
        return False, f"no processor for type {info.modality!r} ({info.channel_format})"
    return True, f"{info.role} {info.modality}"


def _inputs(recording: Recording, used: list[RecordedStream]) -> list[Feature]:
    """The logged features that came from outside the pipeline and the marker streams' markers, in time order.

    Movement computed live from a stream the analysis uses (a ``Movement`` or
    ``ACC`` stream, named in the feature's ``source``) is recomputed from it,
    so the logged copy is left out; the camera's motion energy is replayed.
    """
    recomputed = {stream.info.name for stream in used}
    logged = [
        e
        for e in logged_events(recording)
        if e.get("kind") in INPUT_KINDS and (e.get("data") or {}).get("source") not in recomputed
    ]
    rows = sorted(logged + marker_events(recording, logged), key=lambda e: float(e["t"]))
    return [Feature(e["kind"], e.get("role"), float(e["t"]), dict(e.get("data") or {})) for e in rows]


def _in_time_order(chunks: Iterator[Chunk], inputs: list[Feature]) -> Iterator[Chunk | list[Feature]]:
    """Chunks and input features merged by time, inputs first on a tie."""
    pending = iter(inputs)
    upcoming = next(pending, None)
    for chunk in chunks:
        t0 = float(chunk.timestamps[0])
        batch = []
        while upcoming is not None and upcoming.t <= t0:
            batch.append(upcoming)
            upcoming = next(pending, None)
        if batch:
            yield batch
        yield chunk
    rest = ([upcoming] if upcoming is not None else []) + list(pending)
    if rest:
        yield rest


def analyze(
    recording: Recording,
    out: Path,
    *,
    session_id: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> AnalysisResult:
    """Run the default pipeline over ``recording``; write events, tables and summary to ``out``.

    ``progress`` is called with the recording time reached (seconds from its start).
    """
    pipeline = default_pipeline()
    checked = on_one_clock(recording)
    used, uses = plan(checked, pipeline)
    kept = {s.stream_id for s in checked.streams}
    uses += [
        StreamUse(s.info.name, s.info.modality, s.info.role, len(s), False, "on a clock that disagrees: left out")
        for s in recording.streams
        if s.stream_id not in kept
    ]
    recording = checked
    if not used:
        reasons = "; ".join(f"{u.name}: {u.reason}" for u in uses) or "the file holds no streams"
        raise AnalysisError(f"no stream can be analysed ({reasons})")
    start = min(float(s.timestamps[0]) for s in used)
    session = session_id or recording.metadata.get("session") or recording.path.stem
    items = _in_time_order(merged_chunks(used), _inputs(recording, used))
    result = AnalysisResult(out, uses, notes=recording.notes)
    return run_and_write(items, pipeline, result, session, _from_start(progress, start), timeline(recording))


def _from_start(progress: Callable[[float], None] | None, start: float) -> Callable[[float], None] | None:
    """``progress`` called with seconds since ``start`` rather than clock times."""
    return None if progress is None else lambda t: progress(t - start)


def run_and_write(
    items: Iterable[Chunk | list[Feature]],
    pipeline: Pipeline,
    result: AnalysisResult,
    session_id: str,
    progress: Callable[[float], None] | None = None,
    when: Timeline | None = None,
) -> AnalysisResult:
    """Chunks through ``pipeline.process``, feature batches through ``pipeline.feed``; write the outputs.

    Writes ``events.jsonl``, one table per kind with its data dictionary and
    ``summary.json`` into ``result.out``; ``progress`` is called with the
    time each chunk reaches (clock seconds); ``when`` is the recording's time
    zero for the tables' time columns (default: 0 s, no wall time).
    """
    out = result.out
    out.mkdir(parents=True, exist_ok=True)
    stamper = EventStamper(session_id)
    events_path = out / "events.jsonl"
    with events_path.open("w") as log:
        for item in items:
            if isinstance(item, Chunk):
                features = pipeline.process(item)
                if progress is not None:
                    progress(float(item.timestamps[-1]))
            else:
                features = pipeline.feed(item)
            for feature in features:
                log.write(to_json(stamper.stamp(feature).to_dict()) + "\n")
                result.events[feature.kind] += 1
    with events_path.open() as log:
        logged = [json.loads(line) for line in log]
    written = write_measure_tables(logged, out, when or Timeline())
    result.tables += [path.name for path in written if path.suffix == ".csv"]
    write_summary(out, logged, **result.to_dict())
    return result
