"""A figure of the session, the kind a researcher puts in a paper (PNG and PDF).

Rows, each only where the recording has it, both people in their colours:

* EDA (the tonic level from the ``eda`` measure, else the raw EDA stream),
  heart rate, RSA (peak-to-trough), face valence, vocal arousal;
* synchrony per modality as colour bands of the peak ``r``
  (``sync`` and ``concordance`` measures);
* flags: dissonant speech segments, desynchrony flags, signal-quality
  problems and markers.

The resting baseline (the ``baseline`` feature's ``start_t`` to ``end_t``) is
shaded on every row; markers
are dashed lines (when there are few). A file without DyadScope measures (another tool's) gets its
regular numeric streams instead, so every recording has a figure. Lines break
at gaps in the data; long series are drawn as their min/max envelope.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)
import numpy as np  # noqa: E402

from dyadscope.offline.export.common import (  # noqa: E402
    Progress,
    bids_stem,
    events,
    flag_row,
    is_derived,
    markers,
    no_progress,
    start_time,
)
from dyadscope.stream import kinds  # noqa: E402
from dyadscope.xdf.reader import RecordedStream, Recording  # noqa: E402

ROLE_COLOURS = {"patient": "tab:blue", "therapist": "tab:orange", None: "tab:grey"}
MAX_POINTS = 4000  # per line; longer series are drawn as their min/max envelope
MAX_RAW_PANELS = 8
MAX_MARKER_LINES = 40  # more markers are only ticked in the flags row


@dataclass(frozen=True)
class Panel:
    """One row: a field of a measure per role, or a raw stream modality as a fallback."""

    name: str
    kind: str
    field: str
    raw_modality: str | None = None

    @property
    def title(self) -> str:
        """The row's label, with the field's unit from the codebook (none for dimensionless values)."""
        unit = kinds.KINDS[self.kind].fields[self.field].unit
        return self.name if unit in (None, "1") else f"{self.name} ({unit})"


PANELS = (
    Panel("EDA", kinds.EDA, "tonic_us", raw_modality="EDA"),
    Panel("Heart rate", kinds.HEART_RATE, "bpm"),
    Panel("RSA", kinds.RSA, "p2t_ms"),
    Panel("Face valence", kinds.FACE_AFFECT, "valence"),
    Panel("Vocal arousal", kinds.VOICE_SEGMENT, "arousal"),
)
SYNCHRONY_KINDS = (kinds.SYNC, kinds.CONCORDANCE)

Series = dict[Any, tuple[np.ndarray, np.ndarray]]  # role -> (times, values)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _measure(logged: list[dict[str, Any]], kind: str, field: str) -> Series:
    rows: dict[Any, list[tuple[float, float]]] = defaultdict(list)
    for event in logged:
        if event["kind"] == kind:
            value = _number((event.get("data") or {}).get(field))
            if not math.isnan(value):
                rows[event.get("role")].append((event["t"], value))
    return {role: tuple(np.array(col) for col in zip(*pairs)) for role, pairs in rows.items()}


def _raw(streams: list[RecordedStream], modality: str) -> Series:
    return {
        s.info.role: (s.timestamps, s.values[:, 0].astype(np.float64))
        for s in streams
        if s.info.modality == modality and s.info.channel_format != "string" and len(s) and not is_derived(s)
    }


def envelope(t: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points that keep every peak: per bin, its min and its max."""
    if len(t) <= max_points:
        return t, y
    bins = max_points // 2
    starts = np.unique(np.linspace(0, len(t), bins + 1).astype(int)[:-1])
    lows = np.minimum.reduceat(y, starts)
    highs = np.maximum.reduceat(y, starts)
    return np.repeat(t[starts], 2), np.column_stack([lows, highs]).ravel()


def break_gaps(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The series with a NaN in every gap (over 10 median spacings and 2 s), so lines do not bridge it."""
    if len(t) < 3:
        return t, y
    step = np.diff(t)
    gaps = np.flatnonzero(step > max(10 * float(np.median(step)), 2.0 / 60))  # t in minutes here
    if not len(gaps):
        return t, y
    return np.insert(t, gaps + 1, np.nan), np.insert(y.astype(np.float64), gaps + 1, np.nan)


def _baselines(logged: list[dict[str, Any]]) -> set[tuple[float, float]]:
    spans = set()
    for event in logged:
        data = event.get("data") or {}
        start, end = _number(data.get("start_t")), _number(data.get("end_t"))
        if event["kind"] == kinds.BASELINE and not math.isnan(start + end):
            spans.add((start, end))  # once, though both people report it
    return spans


def _synchrony(logged: list[dict[str, Any]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rows: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for event in logged:
        if event["kind"] in SYNCHRONY_KINDS:
            data = event.get("data") or {}
            r = _number(data.get("r"))
            if not math.isnan(r):
                rows[str(data.get("modality") or event["kind"])].append((event["t"], r))
    return {m: tuple(np.array(col) for col in zip(*pairs)) for m, pairs in sorted(rows.items())}


def flag_events(logged: list[dict[str, Any]]) -> dict[str, list[tuple[float, Any]]]:
    """The flags row's marks, ``(t, role)`` by row: dissonant segments, desynchrony flags, quality problems."""
    flags: dict[str, list[tuple[float, Any]]] = {"dissonance": [], "desync": [], "quality": []}
    for event in logged:
        row = flag_row(event)
        if row is not None:
            flags[row].append((event["t"], None if row == "desync" else event.get("role")))
    return flags


def _plan(recording: Recording, logged: list[dict[str, Any]]) -> list[tuple[str, Series]]:
    rows = []
    for panel in PANELS:
        series = _measure(logged, panel.kind, panel.field)
        if not series and panel.raw_modality:
            series = _raw(recording.streams, panel.raw_modality)
        if series:
            rows.append((panel.title, series))
    if rows:
        return rows
    regular = [s for s in recording.streams if s.info.nominal_rate > 0 and s.info.channel_format != "string" and len(s)]
    return [(s.info.name, {s.info.role: (s.timestamps, s.values[:, 0].astype(np.float64))}) for s in regular][
        :MAX_RAW_PANELS
    ]


def _draw_series(ax, title: str, series: dict, minutes) -> None:
    """One signal panel: a line per person."""
    for role, (t, y) in sorted(series.items(), key=lambda item: str(item[0])):
        tt, yy = break_gaps(*envelope(minutes(t), y))
        ax.plot(tt, yy, lw=0.8, color=ROLE_COLOURS.get(role, "tab:grey"), label=role or "stream")
    ax.set_ylabel(title, fontsize=8)
    ax.legend(loc="upper right", fontsize=7, frameon=False, ncols=2)


def _draw_synchrony(ax, figure, synchrony: dict, minutes) -> None:
    """The synchrony panel: one row of r per modality, coloured from −1 to 1."""
    mesh = None
    for row, (t, r) in enumerate(synchrony.values()):
        x = minutes(t)
        edges = np.concatenate([[x[0]], (x[1:] + x[:-1]) / 2, [x[-1]]]) if len(x) > 1 else np.array([x[0], x[0] + 0.05])
        mesh = ax.pcolormesh(edges, [row - 0.4, row + 0.4], r[None, :], cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_yticks(range(len(synchrony)), list(synchrony), fontsize=7)
    ax.set_ylabel("Synchrony r", fontsize=8)
    figure.colorbar(mesh, ax=ax, fraction=0.02, pad=0.01)


def _draw_flags(ax, flags: dict, marks: list, minutes) -> None:
    """The flag panel: dissonance, desynchrony and quality problems, and the markers."""
    styles = {"dissonance": ("v", "tab:red"), "desync": ("D", "tab:purple"), "quality": ("s", None)}
    for row, (name, (marker, colour)) in enumerate(styles.items()):
        for t, role in flags[name]:
            ax.plot(minutes(t), row, marker=marker, ms=4, color=colour or ROLE_COLOURS.get(role, "tab:grey"))
    for t, _, _ in marks:
        ax.plot(minutes(t), len(styles), marker="|", ms=10, color="black")
    ax.set_yticks(range(len(styles) + 1), [*styles, "markers"], fontsize=7)
    ax.set_ylim(-0.6, len(styles) + 0.6)


def _draw_context(axes, logged, marks: list, minutes) -> None:
    """Resting baselines shaded and (when few) markers as lines, on every panel."""
    for ax in axes:
        for start, end in _baselines(logged):
            ax.axvspan(minutes(start), minutes(end), color="0.85", zorder=0, lw=0)
        for t, _, _ in marks if len(marks) <= MAX_MARKER_LINES else ():
            ax.axvline(minutes(t), color="0.4", lw=0.5, ls="--", zorder=0)


def export_report(recording: Recording, out: Path, progress: Progress = no_progress) -> list[Path]:
    """Draw the session figure into ``out`` as PNG and PDF; returns the two paths."""
    out.mkdir(parents=True, exist_ok=True)
    logged = events(recording)
    t0 = start_time(recording)
    rows = _plan(recording, logged)
    synchrony, flags, marks = _synchrony(logged), flag_events(logged), markers(recording)
    has_flags = any(flags.values()) or bool(marks)
    heights = (
        [2.0] * len(rows) + ([0.5 * max(1, len(synchrony)) + 0.4] if synchrony else []) + ([0.9] if has_flags else [])
    )
    figure, axes = plt.subplots(
        max(1, len(heights)), 1, sharex=True, figsize=(11, 1.3 + 1.1 * sum(heights) if heights else 3),
        gridspec_kw={"height_ratios": heights or [1]}, squeeze=False, layout="constrained",
    )  # fmt: skip
    axes = list(axes[:, 0])
    minutes = lambda t: (np.asarray(t, dtype=np.float64) - t0) / 60.0  # noqa: E731
    for ax, (title, series) in progress(list(zip(axes, rows)), desc="report panels"):
        _draw_series(ax, title, series, minutes)
    if synchrony:
        _draw_synchrony(axes[len(rows)], figure, synchrony, minutes)
    if has_flags:
        _draw_flags(axes[len(rows) + bool(synchrony)], flags, marks, minutes)
    _draw_context(axes, logged, marks, minutes)
    axes[-1].set_xlabel("time (min from the start of the recording)")
    duration = (max((float(s.timestamps[-1]) for s in recording.streams if len(s)), default=t0) - t0) / 60
    figure.suptitle(f"{bids_stem(recording)} · {duration:.1f} min", fontsize=10)
    stem = out / f"{bids_stem(recording)}_report"
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    figure.savefig(paths[0], dpi=150)
    figure.savefig(paths[1])
    plt.close(figure)
    return paths
