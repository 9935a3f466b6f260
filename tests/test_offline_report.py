"""The report figure, looked at: its panels, units, legend, marker labels and synchrony chance lines, PNG and PDF.

Drawn from a simulated session recording (event log and derived streams, as
a live session writes) and from a raw recording with neither (what
``dyadscope simulate --out`` and ``dyadscope record`` write), which the report
runs through the pipeline first.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from dyadscope.offline.export.common import events
from dyadscope.offline.export.report import export_report, render_report, session_events
from dyadscope.sensors.simulate_file import write_simulated_recording
from dyadscope.sensors.simulated_recording import record_simulated_session
from dyadscope.service.cli import main
from dyadscope.stream import kinds
from dyadscope.stream.types import Chunk, Event, StreamInfo
from dyadscope.xdf.reader import Recording, load_recording
from dyadscope.xdf.recorder import Recorder

SESSION_S = 420.0  # past the 180 s resting baseline, a dissonant segment, a quality and a desynchrony flag
RAW_S = 200.0  # past the ~150 s the pipeline's synchrony needs before its chance level


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Recording:
    root = tmp_path_factory.mktemp("session")
    with Recorder.for_session(root, subject="P01", session="2", task="therapy") as rec:
        record_simulated_session(rec, SESSION_S)
        rec.marker(12.5, "patient cries")
        rec.marker(13.0, "therapist names the feeling and asks about last week's homework")
    return load_recording(rec.path)


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Recording:
    path = tmp_path_factory.mktemp("raw") / "raw.xdf"
    write_simulated_recording(path, RAW_S)
    recording = load_recording(path)
    assert {s.info.modality for s in recording.streams} == {"ECG", "RSP", "EDA", "Markers"}  # raw streams only
    return recording


def _titles(figure) -> list[str]:
    return [ax.get_title(loc="left") for ax in figure.axes]


def _axes(figure, title: str):
    return next(ax for ax in figure.axes if ax.get_title(loc="left") == title)


def _line(ax, label: str):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def _labels(figure) -> list[str]:
    return [text.get_text() for ax in figure.axes for text in ax.texts if text.get_gid() == "marker-label"]


def _check_person_panels(figure, measures: dict[str, str]) -> None:
    """A panel per person per measure, its y label with the unit; the therapist's on the patient's y scale."""
    for name, unit in measures.items():
        patient, therapist = _axes(figure, f"{name} · patient"), _axes(figure, f"{name} · therapist")
        assert patient.get_ylabel().endswith(f"({unit})") and therapist.get_ylabel() == patient.get_ylabel()
        assert patient.get_ylim() == therapist.get_ylim()
        assert patient.get_lines() and therapist.get_lines()


def test_session_figure_has_per_person_panels_with_units_legend_markers_and_chance(session: Recording) -> None:
    figure = render_report(session)
    _check_person_panels(figure, {"Skin conductance, tonic": "µS", "Heart rate": "bpm",
                                  "RSA, peak-to-trough per breath": "ms", "Face valence": "−1 to 1"})  # fmt: skip
    legend = {text.get_text() for text in figure.legends[0].get_texts()}
    assert legend == {"patient", "therapist", "resting baseline", "marker", "dissonant speech (face vs voice)",
                      "synchrony lost", "signal-quality problem"}  # fmt: skip
    assert {"patient cries", "block 1"} <= set(_labels(figure))
    assert "therapist names the feeling and asks about last week's homework" not in _labels(figure)  # cut short
    assert any(label.startswith("therapist names") and label.endswith("…") for label in _labels(figure))
    logged = events(session)
    [(start, end)] = {(e["data"]["start_t"], e["data"]["end_t"]) for e in logged if e["kind"] == "baseline"}
    t0 = min(float(s.timestamps[0]) for s in session.streams if len(s))
    heart = _axes(figure, "Heart rate · patient")
    [band] = heart.patches  # the baseline, once though both people report it
    assert (band.get_x(), band.get_x() + band.get_width()) == pytest.approx(((start - t0) / 60, (end - t0) / 60))
    sync = [e for e in logged if e["kind"] == kinds.SYNC and e["data"]["modality"] == "heart_rate"]
    chance = _line(_axes(figure, "Synchrony · heart rate"), "chance (95th pct. of surrogates)")
    expected = np.array([np.nan if e["data"]["chance_r"] is None else e["data"]["chance_r"] for e in sync])
    np.testing.assert_allclose(np.asarray(chance.get_ydata(), dtype=float), expected)
    assert {f"Synchrony · {m}" for m in ("eda", "heart rate", "rsa", "face valence", "vocal arousal")} <= set(
        _titles(figure)
    )
    assert _titles(figure)[0] == "Markers" and _titles(figure)[-1] == "Flags"


def test_rsa_is_a_point_per_breath_with_a_smooth_line(session: Recording) -> None:
    figure = render_report(session)
    ax = _axes(figure, "RSA, peak-to-trough per breath · patient")
    points, line = ax.get_lines()[:2]
    onsets = {e["data"]["p2t_breath_t"] for e in events(session) if e["kind"] == "rsa" and e["role"] == "patient"}
    assert points.get_marker() == "o" and points.get_linestyle() == "None" and len(points.get_xdata()) == len(onsets)
    steps = np.abs(np.diff(np.asarray(line.get_ydata(), dtype=float)))
    jumps = np.abs(np.diff(np.asarray(points.get_ydata(), dtype=float)))
    assert len(line.get_xdata()) > len(onsets) and np.nanmax(steps) < jumps.max() / 4  # no per-breath steps


def test_raw_recording_is_run_through_the_pipeline_first(raw: Recording) -> None:
    logged = session_events(raw)
    assert {kinds.HEART_RATE, kinds.EDA, kinds.RSA, kinds.SYNC} <= {e["kind"] for e in logged}
    figure = render_report(raw, logged)
    _check_person_panels(figure, {"Skin conductance, tonic": "µS", "Heart rate": "bpm",
                                  "RSA, peak-to-trough per breath": "ms"})  # fmt: skip
    for modality in ("eda", "heart rate", "rsa"):
        ax = _axes(figure, f"Synchrony · {modality}")
        assert ax.get_ylabel() == "|r|"
        assert np.isfinite(np.asarray(_line(ax, "chance (95th pct. of surrogates)").get_ydata(), float)).any()
    assert {"rest begins", "rest ends"} <= set(_labels(figure))  # the planted markers, from the marker stream
    assert "marker" in {text.get_text() for text in figure.legends[0].get_texts()}


def test_many_markers_are_labelled_without_overlap_and_the_rest_counted(tmp_path: Path) -> None:
    eda = StreamInfo("EDA", "EDA", 1, 4.0, "float32", source_id="eda", role="patient", units=("µS",))
    rng = np.random.default_rng(3)
    times = np.sort(rng.uniform(0.0, 600.0, 150))
    with Recorder(tmp_path / "many.xdf", {"subject": "P03"}) as rec:
        rec.write(Chunk(eda, np.arange(2400) / 4.0, np.full((2400, 1), 2.0, np.float32)))
        rec.write_events([Event("s", 1, 1.0, 1.0, kinds.HEART_RATE, "patient", {"bpm": 70.0})])
        for k, t in enumerate(times):
            rec.marker(float(t), f"event {k}: " + "word " * int(rng.integers(1, 6)))
    figure = render_report(load_recording(rec.path))
    FigureCanvasAgg(figure).draw()
    strip = _axes(figure, "Markers")
    labels = [text for text in strip.texts if text.get_gid() == "marker-label"]
    boxes = [text.get_window_extent() for text in labels]
    assert 10 < len(labels) < len(times)
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a.overlaps(b)]
    assert all(strip.bbox.x0 - 1 <= box.x0 and box.x1 <= strip.bbox.x1 + 1 for box in boxes)  # inside the axis
    note = next(text.get_text() for text in strip.texts if text.get_gid() != "marker-label")
    assert note == f"{len(times) - len(labels)} markers not labelled"
    heart = _axes(figure, "Heart rate · patient")
    assert not [line for line in heart.get_lines() if line.get_linestyle() == ":"]  # too many to draw across panels
    assert "marker" not in {text.get_text() for text in figure.legends[0].get_texts()}  # so not in the legend


class _Bars:
    """A ``progress`` wrapper that records each bar: its description, its total and how far it went."""

    def __init__(self):
        self.bars: list[dict] = []

    def __call__(self, items, desc=""):
        bar = {"desc": desc, "total": len(items), "done": 0}
        self.bars.append(bar)
        for item in items:
            yield item
            bar["done"] += 1


@pytest.mark.parametrize("which", ["session", "raw"])
def test_export_writes_a_png_and_a_pdf_and_moves_its_bars(which: str, request, tmp_path: Path) -> None:
    recording = request.getfixturevalue(which)
    bars = _Bars()
    png, pdf = export_report(recording, tmp_path, bars)
    import matplotlib.image

    image = matplotlib.image.imread(png)
    assert image.shape[1] == 2000 and image.shape[0] > 1500  # 10 in at 200 dpi; a panel per row
    ink = (image[:, :, :3] < 0.9).any(axis=2).mean()
    assert 0.02 < ink < 0.5  # neither blank nor a filled block
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.read_bytes().rstrip().endswith(b"%%EOF")
    panels = [title for title in _titles(render_report(recording)) if title not in ("Markers", "Flags")]
    report = bars.bars[-1]
    assert report["desc"] == "report" and report["done"] == report["total"] == len(panels) + 2  # and PNG, PDF
    if which == "raw":
        analysing = bars.bars[0]
        duration = max(s.timestamps[-1] for s in recording.streams) - min(s.timestamps[0] for s in recording.streams)
        assert analysing["done"] == analysing["total"] == math.ceil(duration)
    else:
        assert len(bars.bars) == 1


def test_cli_exports_the_report_of_a_raw_recording(raw: Recording, tmp_path: Path, capsys) -> None:
    assert main(["export", str(raw.path), "--to", "report", "--out", str(tmp_path), "--no-progress"]) == 0
    assert sorted(p.suffix for p in tmp_path.glob("*_report.*")) == [".pdf", ".png"]
    assert capsys.readouterr().out.startswith("wrote 2 files")
