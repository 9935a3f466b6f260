"""Drawing the report figure's panels; :mod:`.report` gathers what they show.

Every panel's x axis is minutes from the start of the recording (``minutes``
turns clock seconds into them). Long series are drawn as their min/max
envelope and lines break at gaps; RSA is a smooth line through its per-breath
points; marker labels are set on up to :data:`MAX_LABEL_LEVELS` levels so that
none overlaps another, the rest are ticked only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.textpath import TextToPath

ROLE_COLOURS = {"patient": "#1f77b4", "therapist": "#d95f02", None: "0.35"}
SYNC_COLOUR = "#1b9e77"
BASELINE_COLOUR = "0.87"
MAX_POINTS = 4000  # per line; longer series are drawn as their min/max envelope
SMOOTH_SIGMA_S = 10.0  # the RSA line: Gaussian kernel over the breaths, this standard deviation (s)
SMOOTH_STEP_S = 2.0  # ... evaluated every this many seconds
LABEL_PT = 6.5  # marker label font size (pt)
LABEL_CHARS = 28  # longer marker texts are cut, with an ellipsis
LABEL_PAD_PT = 6.0  # least space between two labels on one level (pt)
MAX_LABEL_LEVELS = 3
MAX_MARKER_LINES = 40  # more markers are drawn in the marker strip only, not across every panel
WIDTH_IN = 10.0
MARGINS_IN = {"left": 1.0, "right": 0.25, "top": 0.75, "bottom": 0.45, "gap": 0.28}  # around and between panels
HEIGHTS_IN = {"person": 0.8, "synchrony": 0.65, "flags": 0.6, "markers": 0.6}  # a panel's height, by what it shows
#: The flag strip's rows: (label in the legend, y tick, matplotlib marker, colour; None: the person's).
FLAG_STYLES = {
    "dissonance": ("dissonant speech (face vs voice)", "dissonance", "v", "#e7298a"),
    "desync": ("synchrony lost", "desync", "D", "#7570b3"),
    "quality": ("signal-quality problem", "quality", "s", None),
}

Minutes = Callable[[np.ndarray | float], np.ndarray]


@dataclass(frozen=True)
class Synchrony:
    """One modality's synchrony: times (s), ``|r|`` at the peak lag, its chance level (NaN: not yet known)."""

    t: np.ndarray
    abs_r: np.ndarray
    chance_r: np.ndarray


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


def smooth(t: np.ndarray, y: np.ndarray, sigma_s: float = SMOOTH_SIGMA_S) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian-kernel mean of ``y`` every :data:`SMOOTH_STEP_S` s; NaN where no point is within about ``sigma_s``."""
    if len(t) < 2:
        return t, y
    grid = np.arange(t[0], t[-1] + SMOOTH_STEP_S / 2, SMOOTH_STEP_S)
    out = np.full(grid.shape, np.nan)
    for start in range(0, len(grid), 256):  # 256 grid points at a time: memory stays small on long sessions
        weights = np.exp(-0.5 * ((grid[start : start + 256, None] - t[None, :]) / sigma_s) ** 2)
        mass = weights.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + 256] = np.where(mass > 0.5, weights @ y / mass, np.nan)
    return grid, out


def layout(rows: list[float]) -> tuple[Figure, list]:
    """A figure of one column of panels sharing x, ``rows`` their heights (in), with fixed margins.

    Fixed, so that the marker labels' room is known before anything is drawn.
    The figure is not pyplot's: nothing global to close.
    """
    rows = rows or [HEIGHTS_IN["person"]]
    m = MARGINS_IN
    height = m["top"] + m["bottom"] + sum(rows) + m["gap"] * (len(rows) - 1)
    figure = Figure(figsize=(WIDTH_IN, height))
    grid = figure.add_gridspec(
        len(rows), 1, height_ratios=rows, hspace=m["gap"] / float(np.mean(rows)),
        left=m["left"] / WIDTH_IN, right=1 - m["right"] / WIDTH_IN,
        top=1 - m["top"] / height, bottom=m["bottom"] / height,
    )  # fmt: skip
    axes = [figure.add_subplot(grid[0])]
    axes += [figure.add_subplot(grid[k], sharex=axes[0]) for k in range(1, len(rows))]
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    return figure, axes


def style(ax, title: str, ylabel: str, colour: str = "black") -> None:
    """A panel's title (top left, in the person's colour) and y label, at the figure's small type sizes."""
    ax.set_title(title, loc="left", fontsize=8, color=colour, pad=2)
    ax.set_ylabel(ylabel, fontsize=7.5)
    ax.tick_params(labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)


def draw_line(ax, role, t: np.ndarray, y: np.ndarray, minutes: Minutes) -> None:
    """One person's series as a line (its envelope when long), broken at gaps."""
    ax.plot(*break_gaps(*envelope(minutes(t), y)), lw=0.8, color=ROLE_COLOURS.get(role, "0.35"))


def draw_breaths(ax, role, t: np.ndarray, y: np.ndarray, minutes: Minutes) -> None:
    """Per-breath values as points and their smooth mean (:func:`smooth`) as a line."""
    colour = ROLE_COLOURS.get(role, "0.35")
    ax.plot(minutes(t), y, ls="none", marker="o", ms=1.6, alpha=0.45, color=colour, mec="none")
    grid, mean = smooth(t, y)
    ax.plot(minutes(grid), mean, lw=1.1, color=colour)


def draw_synchrony(ax, sync: Synchrony, minutes: Minutes, with_legend: bool) -> None:
    """``|r|`` at the peak lag, its chance level (dashed) and the stretches above it (shaded)."""
    x, r, chance = minutes(sync.t), sync.abs_r, sync.chance_r
    ax.plot(*break_gaps(x, r), lw=0.8, color=SYNC_COLOUR, label="|r| at the peak lag")
    if np.isfinite(chance).any():
        ax.plot(*break_gaps(x, chance), lw=0.9, ls="--", color="black", label="chance (95th pct. of surrogates)")
        above = np.isfinite(chance) & (r > chance)
        ax.fill_between(x, chance, r, where=above, color=SYNC_COLOUR, alpha=0.35, lw=0, label="above chance")
    ax.set_ylim(0, 1)
    if with_legend:
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.98), fontsize=6.5, frameon=False, ncols=3, borderaxespad=0)


def draw_flags(ax, flags: dict[str, list[tuple[float, object]]], minutes: Minutes) -> None:
    """The flag strip: one row per kind of flag, a symbol at each (quality problems in the person's colour)."""
    for row, (name, (_, _, marker, colour)) in enumerate(FLAG_STYLES.items()):
        for t, role in flags[name]:
            ax.plot(minutes(t), row, marker=marker, ms=4, ls="none", color=colour or ROLE_COLOURS.get(role, "0.35"))
    ax.set_yticks(range(len(FLAG_STYLES)), [style_[1] for style_ in FLAG_STYLES.values()], fontsize=7)
    ax.set_ylim(-0.6, len(FLAG_STYLES) - 0.4)
    ax.spines[["top", "right"]].set_visible(False)


def _label_width_pt(text: str) -> float:
    """How wide ``text`` is set at :data:`LABEL_PT` (pt), from the font's outlines (no rendering)."""
    width, _, _ = TextToPath().get_text_width_height_descent(text, FontProperties(size=LABEL_PT), ismath=False)
    return float(width)


def label_text(text: str) -> str:
    """A marker's label: its text, cut to :data:`LABEL_CHARS` characters."""
    text = " ".join(text.split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def place_labels(xs: Sequence[float], widths: Sequence[float], x_end: float, levels: int) -> list[tuple[int, str]]:
    """Where each label goes: ``(level, "left"|"right")``, or ``(-1, "")`` when no level has room.

    ``xs`` are the labels' anchors and ``widths`` their widths (same unit, the
    pad included); a label runs right from its anchor, or left where it would
    pass ``x_end``. Greedy in time order: the first level whose last label
    ends before this one begins.
    """
    ends = [-math.inf] * levels
    placed = []
    for x, width in zip(xs, widths):
        side, start = ("left", x) if x + width <= x_end else ("right", x - width)
        level = next((k for k in range(levels) if ends[k] <= start), -1)
        if level >= 0:
            ends[level] = start + width
        placed.append((level, side if level >= 0 else ""))
    return placed


def draw_markers(ax, marks: list[tuple[float, str, str]], minutes: Minutes, x_range: tuple[float, float]) -> int:
    """The marker strip: a tick per marker, its text where there is room; returns how many went unlabelled."""
    x0, x1 = x_range
    width_in = ax.get_position().width * ax.figure.get_figwidth()
    per_pt = (x1 - x0) / (width_in * 72.0)  # minutes per point along the axis
    xs = [float(minutes(t)) for t, _, _ in marks]
    texts = [label_text(text) for _, text, _ in marks]
    widths = [(_label_width_pt(text) + LABEL_PAD_PT) * per_pt for text in texts]
    placed = place_labels(xs, widths, x1, MAX_LABEL_LEVELS)
    ax.vlines(xs, 0, 0.35, color="black", lw=0.6)
    for x, text, (level, side) in zip(xs, texts, placed):
        if level >= 0:
            ax.plot([x, x], [0.35, 0.45 + level], color="0.55", lw=0.4)
            ax.text(x, 0.45 + level, text, fontsize=LABEL_PT, ha=side, va="bottom", gid="marker-label")
    unlabelled = sum(level < 0 for level, _ in placed)
    if unlabelled:
        ax.text(1.0, 1.0, f"{unlabelled} markers not labelled", transform=ax.transAxes, fontsize=6, ha="right",
                va="bottom", color="0.4")  # fmt: skip
    ax.set_ylim(0, MAX_LABEL_LEVELS + 0.4)
    ax.set_yticks([])
    ax.set_title("Markers", loc="left", fontsize=8, pad=2)
    ax.spines[["top", "right", "left"]].set_visible(False)
    return unlabelled


def draw_context(axes, baselines: set[tuple[float, float]], marks: list, minutes: Minutes) -> None:
    """The resting baseline shaded and (when few) the markers as faint lines, on every panel."""
    for ax in axes:
        for start, end in baselines:
            ax.axvspan(float(minutes(start)), float(minutes(end)), color=BASELINE_COLOUR, zorder=0, lw=0)
        for t, _, _ in marks if len(marks) <= MAX_MARKER_LINES else ():
            ax.axvline(float(minutes(t)), color="0.6", lw=0.4, ls=":", zorder=0)


def legend_handles(roles: Sequence, baselines: bool, marks: int, flags: dict[str, list]) -> list:
    """The figure legend: each person's colour, the baseline band, marker lines (when drawn), each flag present."""
    handles = [Line2D([], [], color=ROLE_COLOURS.get(role, "0.35"), lw=1.2, label=role or "stream") for role in roles]
    if baselines:
        handles.append(Patch(color=BASELINE_COLOUR, label="resting baseline"))
    if 0 < marks <= MAX_MARKER_LINES:
        handles.append(Line2D([], [], color="0.6", lw=0.8, ls=":", label="marker"))
    for name, (label, _, marker, colour) in FLAG_STYLES.items():
        if flags.get(name):
            handles.append(Line2D([], [], ls="none", marker=marker, ms=4, color=colour or "0.35", label=label))
    return handles
