"""A figure of the session for a paper (PNG and PDF).

From the top, each only where the recording has it:

* **Markers**: a tick per marker with its text, set on up to three levels so
  that no two labels overlap; those with no room are ticked only (and
  counted in the strip's corner);
* **per person** (the patient's panel above the therapist's, on one y scale):
  tonic skin conductance, heart rate, RSA, face valence, vocal arousal, each
  y label with its unit from the codebook (:mod:`dyadscope.stream.kinds`);
  RSA is the peak-to-trough value of every breath (points) with a smooth line
  through them (Gaussian kernel, sigma 10 s);
* **synchrony per modality**: ``|r|`` at the peak lag, its chance level
  (``chance_r``, the 95th percentile of the window's surrogates, dashed) and
  the stretches above it shaded; EDA concordance ``r``;
* **flags**: dissonant speech, synchrony lost, signal-quality problems.

The resting baseline is shaded on every panel and, with the markers (as faint
lines when at most 40), the people's colours and each kind of flag, named in
the figure legend. The x axis is minutes from the start of the recording.

A recording without our event log or derived streams (``dyadscope record``,
``simulate --out``, LabRecorder) is first run through the live pipeline
(:func:`dyadscope.offline.analysis.analyze`), so it gets the same figure; one
the pipeline cannot use (no roles) gets a panel per regular numeric stream.
The progress bar moves per second of recording while the pipeline runs, then
per panel drawn and per file saved.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from dyadscope.offline.export import _report_panels as draw
from dyadscope.offline.export.common import (
    Progress,
    bids_stem,
    events,
    flag_row,
    is_derived,
    is_events,
    markers,
    no_progress,
    start_time,
    unit,
)
from dyadscope.stream import kinds
from dyadscope.xdf.reader import Recording

logger = logging.getLogger(__name__)

MAX_RAW_PANELS = 8


@dataclass(frozen=True)
class Measure:
    """A per-person row: a field of a measure; ``scale`` names the range of a dimensionless one."""

    name: str
    kind: str
    field: str
    quantity: str
    scale: str | None = None

    @property
    def ylabel(self) -> str:
        """The quantity with its unit from the codebook (or its scale, when it has none)."""
        found = kinds.unit(self.kind, self.field)
        suffix = found if found not in (None, "1") else self.scale
        return f"{self.quantity} ({suffix})" if suffix else self.quantity


MEASURES = (
    Measure("Skin conductance, tonic", kinds.EDA, "tonic_us", "SCL"),
    Measure("Heart rate", kinds.HEART_RATE, "bpm", "HR"),
    Measure("RSA, peak-to-trough per breath", kinds.RSA, "p2t_ms", "RSA"),
    Measure("Face valence", kinds.FACE_AFFECT, "valence", "valence", "−1 to 1"),
    Measure("Vocal arousal", kinds.VOICE_SEGMENT, "arousal", "arousal", "−1 to 1"),
)

Series = dict[Any, tuple[np.ndarray, np.ndarray]]  # role -> (times, values)
Drawer = Callable[[Any], None]  # draws one panel into the axes it is given


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _columns(rows: dict[Any, dict[float, float]]) -> Series:
    return {role: (np.array(list(by_t)), np.array(list(by_t.values()))) for role, by_t in rows.items() if by_t}


def _series(logged: list[dict[str, Any]], field: str) -> Series:
    """Per role, the times and finite values of ``field`` (events of one kind, in time order)."""
    rows: dict[Any, dict[float, float]] = defaultdict(dict)
    for event in logged:
        value = _number((event.get("data") or {}).get(field))
        if math.isfinite(value):
            rows[event.get("role")][float(event["t"])] = value
    return _columns(rows)


def breaths(logged: list[dict[str, Any]]) -> Series:
    """Per role, one peak-to-trough RSA value per breath, at its onset (s).

    Breaths come from ``breaths_scored`` (every breath scored since the last
    output) and ``p2t_breath_t`` with ``p2t_ms`` (the latest breath); a log
    with neither gives each event's ``p2t_ms`` at its time.
    """
    rows: dict[Any, dict[float, float]] = defaultdict(dict)
    for event in logged:
        data = event.get("data") or {}
        scored = [pair for pair in data.get("breaths_scored") or () if isinstance(pair, list) and len(pair) == 2]
        for onset, value in [*scored, (data.get("p2t_breath_t"), data.get("p2t_ms"))]:
            if math.isfinite(_number(onset) + _number(value)):
                rows[event.get("role")][float(onset)] = float(value)
    if not rows:
        return _series(logged, "p2t_ms")
    return {role: (np.sort(t), y[np.argsort(t)]) for role, (t, y) in _columns(rows).items()}


def synchrony(logged: list[dict[str, Any]]) -> dict[str, draw.Synchrony]:
    """Per modality, ``|r|`` at the peak lag and its chance level (NaN while the events give none)."""
    rows: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for event in logged:
        data = event.get("data") or {}
        abs_r = _number(data.get("abs_r"))
        abs_r = abs_r if math.isfinite(abs_r) else abs(_number(data.get("r")))
        if math.isfinite(abs_r):
            rows[str(data.get("modality") or "unknown")].append((event["t"], abs_r, _number(data.get("chance_r"))))
    return {m: draw.Synchrony(*(np.array(col) for col in zip(*found))) for m, found in sorted(rows.items())}


def baselines(logged: list[dict[str, Any]]) -> set[tuple[float, float]]:
    """The resting baselines' ``(start_t, end_t)``, once though both people report them."""
    spans = set()
    for event in logged:
        data = event.get("data") or {}
        start, end = _number(data.get("start_t")), _number(data.get("end_t"))
        if not math.isnan(start + end):
            spans.add((start, end))
    return spans


def flag_events(logged: list[dict[str, Any]]) -> dict[str, list[tuple[float, Any]]]:
    """The flags row's marks, ``(t, role)`` by row: dissonant segments, desynchrony flags, quality problems."""
    flags: dict[str, list[tuple[float, Any]]] = {"dissonance": [], "desync": [], "quality": []}
    for event in logged:
        row = flag_row(event)
        if row is not None:
            flags[row].append((event["t"], None if row == "desync" else event.get("role")))
    return flags


class _Bar:
    """A ``progress`` wrapper moved by hand: :meth:`to` ``n`` items done of ``total``; :meth:`close` finishes it."""

    def __init__(self, progress: Progress, total: int, desc: str):
        self.total, self.done = max(1, total), 0
        self._ticks = iter(progress(range(self.total), desc=desc))
        next(self._ticks, None)  # the bar shows 0 of total

    def to(self, done: float) -> None:
        while self.done < min(self.total, int(done)):
            self.done += 1
            next(self._ticks, None)

    def step(self) -> None:
        self.to(self.done + 1)

    def close(self) -> None:
        self.to(self.total)


def _duration(recording: Recording) -> float:
    """Seconds from the first sample of any stream to the last."""
    return max((float(s.timestamps[-1]) for s in recording.streams if len(s)), default=0.0) - start_time(recording)


def session_events(recording: Recording, progress: Progress = no_progress) -> list[dict[str, Any]]:
    """The session's events: the logged ones, or, for a raw recording, those the live pipeline computes from it.

    A recording with neither our event log nor derived streams is analysed
    (:func:`~dyadscope.offline.analysis.analyze`, into a temporary folder);
    when the pipeline cannot use it, there are none.
    """
    if any(is_events(s) or is_derived(s) for s in recording.streams):
        return events(recording)
    logger.info("no derived measures in the recording: running the pipeline over it for the report")
    bar = _Bar(progress, math.ceil(_duration(recording)), "report: analysing (s of recording)")
    from dyadscope.offline.analysis import AnalysisError, analyze  # loads the pipeline (seconds): after the bar shows

    with tempfile.TemporaryDirectory(prefix="dyadscope-report-") as folder:
        try:
            analyze(recording, Path(folder), progress=bar.to)
        except AnalysisError:
            logger.warning("the pipeline can use none of the recording's streams: the report draws them raw")
            return []
        finally:
            bar.close()
        with (Path(folder) / "events.jsonl").open() as log:
            found = [json.loads(line) for line in log]
    return sorted(found, key=lambda e: (e.get("t", 0.0), e.get("seq", 0)))


@dataclass(frozen=True)
class Panel:
    """One panel: its height (a key of ``HEIGHTS_IN``), what draws it, whose y scale it shares, whose it is."""

    height: str
    draw: Drawer
    shares: int | None = None  # index of an earlier panel
    role: Any = None


def _person_panels(by_kind: dict[str, list[dict[str, Any]]], minutes) -> list[Panel]:
    """Per measure a panel per person, the patient's first; the second shares the first's y scale."""
    panels: list[Panel] = []
    for measure in MEASURES:
        rows = by_kind[measure.kind]
        found = breaths(rows) if measure.kind == kinds.RSA else _series(rows, measure.field)
        plot = draw.draw_breaths if measure.kind == kinds.RSA else draw.draw_line
        first = None
        for role in sorted(found, key=lambda r: (r != "patient", str(r))):

            def panel(ax, role=role, t_y=found[role], measure=measure, plot=plot) -> None:
                plot(ax, role, *t_y, minutes)
                draw.style(ax, f"{measure.name} · {role}", measure.ylabel, draw.ROLE_COLOURS.get(role, "black"))

            panels.append(Panel("person", panel, first, role))
            first = len(panels) - 1 if first is None else first
    return panels


def _dyad_panels(by_kind: dict[str, list[dict[str, Any]]], minutes) -> list[Panel]:
    """A synchrony panel per modality (the first with the legend), and EDA concordance."""
    panels = []
    for k, (modality, sync) in enumerate(synchrony(by_kind[kinds.SYNC]).items()):

        def panel(ax, modality=modality, sync=sync, first=k == 0) -> None:
            draw.draw_synchrony(ax, sync, minutes, with_legend=first)
            draw.style(ax, f"Synchrony · {modality.replace('_', ' ')}", "|r|")

        panels.append(Panel("synchrony", panel))
    for role, (t, r) in _series(by_kind[kinds.CONCORDANCE], "r").items():

        def concordance(ax, t=t, r=r, role=role) -> None:
            draw.draw_line(ax, role, t, r, minutes)
            ax.axhline(0, color="0.5", lw=0.5)
            ax.set_ylim(-1, 1)
            draw.style(ax, "EDA concordance (slope correlation)", "r")

        panels.append(Panel("synchrony", concordance))
    return panels


def _raw_panels(recording: Recording, minutes) -> list[Panel]:
    """A file the pipeline cannot use: a panel per regular numeric stream, its unit from the header."""
    regular = [s for s in recording.streams if s.info.nominal_rate > 0 and s.info.channel_format != "string" and len(s)]
    panels = []
    for stream in regular[:MAX_RAW_PANELS]:
        found = unit(stream, 0)
        label = (stream.info.modality or "value") + (f" ({found})" if found != "n/a" else "")

        def panel(ax, stream=stream, label=label) -> None:
            draw.draw_line(ax, stream.info.role, stream.timestamps, stream.values[:, 0].astype(np.float64), minutes)
            draw.style(ax, stream.info.name, label, draw.ROLE_COLOURS.get(stream.info.role, "black"))

        panels.append(Panel("person", panel, role=stream.info.role))
    return panels


@dataclass
class Plan:
    """What the figure shows: its panels top to bottom (markers and flags aside) and what goes on every panel."""

    panels: list[Panel]
    minutes: Callable[[Any], np.ndarray]  # clock seconds -> minutes from the start of the recording
    x_end: float  # the recording's length (min)
    marks: list[tuple[float, str, str]]
    flags: dict[str, list[tuple[float, Any]]]
    baselines: set[tuple[float, float]]

    @property
    def heights(self) -> list[str]:
        """Each row's height class, the marker strip and the flag strip included."""
        return (
            (["markers"] if self.marks else [])
            + [p.height for p in self.panels]
            + (["flags"] if self.has_flags else [])
        )

    @property
    def has_flags(self) -> bool:
        return any(self.flags.values())


def plan(recording: Recording, logged: list[dict[str, Any]]) -> Plan:
    """The figure's panels and context, from the recording and its events."""
    t0 = start_time(recording)
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in logged:
        by_kind[event.get("kind")].append(event)

    def minutes(t) -> np.ndarray:
        return (np.asarray(t, dtype=np.float64) - t0) / 60.0

    panels = _person_panels(by_kind, minutes) + _dyad_panels(by_kind, minutes) or _raw_panels(recording, minutes)
    x_end = max(_duration(recording) / 60.0, 1e-3)
    return Plan(panels, minutes, x_end, markers(recording), flag_events(logged), baselines(by_kind[kinds.BASELINE]))


def render_report(recording: Recording, logged: list[dict[str, Any]] | None = None) -> Figure:
    """The session figure, not saved; ``logged`` defaults to :func:`session_events`."""
    return _draw(recording, plan(recording, session_events(recording) if logged is None else logged))


def _draw(recording: Recording, found: Plan, on_panel: Callable[[], None] = lambda: None) -> Figure:
    """The figure of ``found``; ``on_panel`` is called after each panel is drawn."""
    figure, axes = draw.layout([draw.HEIGHTS_IN[h] for h in found.heights])
    panel_axes = axes[1:] if found.marks else axes
    for ax, panel in zip(panel_axes, found.panels):
        if panel.shares is not None:
            ax.sharey(panel_axes[panel.shares])
        panel.draw(ax)
        on_panel()
    if found.has_flags:
        draw.draw_flags(axes[-1], found.flags, found.minutes)
        draw.style(axes[-1], "Flags", "")
    axes[0].set_xlim(0.0, found.x_end)
    if found.marks:
        draw.draw_markers(axes[0], found.marks, found.minutes, (0.0, found.x_end))
    draw.draw_context(panel_axes, found.baselines, found.marks, found.minutes)
    roles = sorted({p.role for p in found.panels if p.height == "person"}, key=lambda r: (r != "patient", str(r)))
    handles = draw.legend_handles(roles, bool(found.baselines), len(found.marks), found.flags)
    top = 1 - 0.3 / figure.get_figheight()
    figure.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, top), ncols=min(len(handles), 4) or 1,
                  fontsize=7, frameon=False)  # fmt: skip
    axes[-1].set_xlabel("time (min from the start of the recording)", fontsize=8)
    figure.suptitle(f"{bids_stem(recording)} · {found.x_end:.1f} min", fontsize=10, y=1 - 0.06 / figure.get_figheight())
    return figure


def export_report(recording: Recording, out: Path, progress: Progress = no_progress) -> list[Path]:
    """Draw the session figure into ``out`` as PNG and PDF; returns the two paths.

    ``progress`` sees the pipeline's seconds of recording (a raw recording
    only), then one step per panel and per file saved.
    """
    out.mkdir(parents=True, exist_ok=True)
    logged = session_events(recording, progress)
    found = plan(recording, logged)
    bar = _Bar(progress, len(found.panels) + 2, "report")
    figure = _draw(recording, found, bar.step)
    stem = out / f"{bids_stem(recording)}_report"
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    try:
        for path in paths:
            figure.savefig(path, dpi=200)
            bar.step()
    finally:
        bar.close()
    return paths
