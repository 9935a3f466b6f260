"""Any file ``dyadscope analyze`` takes, and a folder of them analysed in parallel with one summary table.

A file is a video (:mod:`.video`) or an XDF recording (:mod:`.analysis`);
:func:`prepare` checks it and says how long it is, :meth:`Job.run` analyses
it. :func:`analyze_folder` analyses every such file at the top of a folder,
each into its own subfolder of ``out`` (named after the file), in a pool of
worker processes — one core each: models, OpenCV and the decoder run on one
thread — and returns one :class:`SummaryRow` per file; a file that fails
gets its one-line reason in the table and does not stop the others::

    rows = analyze_folder(Path("sessions"), Path("out"), FileOptions(person="patient"), workers=4)
    write_summary(rows, Path("out") / "summary.csv")
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, fields, replace
from multiprocessing import get_context
from pathlib import Path

from dyadscope.models.library import ModelMissing
from dyadscope.offline.analysis import AnalysisError, AnalysisResult, analyze
from dyadscope.offline.video import analyze_video, media_duration_s, video_tracks
from dyadscope.sensors.media_decode import VIDEO_SUFFIXES
from dyadscope.stream import kinds
from dyadscope.stream.assign import Override
from dyadscope.stream.types import Role
from dyadscope.xdf.reader import Recording, load_recording
from dyadscope.xdf.repair import XdfFormatError, is_unfinished, repair

log = logging.getLogger(__name__)

#: File suffixes ``dyadscope analyze`` takes.
ANALYSABLE = (*VIDEO_SUFFIXES, ".xdf")
#: Measures counted in the summary table, by kind (each a column of :class:`SummaryRow`).
SUMMARY_KINDS = (kinds.FACE_AFFECT, kinds.VOICE_SEGMENT, kinds.MOVEMENT, kinds.DISSONANCE, kinds.HEART_RATE, kinds.SYNC)


@dataclass(frozen=True)
class FileOptions:
    """What the files need said: who a video shows (``person`` or ``sides``), a separate ``audio``
    file (one video only), XDF stream assignments, the model directory."""

    person: Role | None = None
    sides: tuple[Role, ...] | None = None
    audio: Path | None = None
    assign: tuple[Override, ...] = ()
    model_dir: Path | None = None


@dataclass
class Job:
    """One checked file: its kind ("video" or "xdf"), its length (s), and how to analyse it."""

    path: Path
    kind: str
    duration_s: float
    _run: Callable[[Path, Callable[[float], None] | None], AnalysisResult]
    #: What the user should know about the file although it could be analysed (None: nothing).
    warning: str | None = None

    def run(self, out: Path, progress: Callable[[float], None] | None = None) -> AnalysisResult:
        """Analyse into ``out``; ``progress`` gets the seconds reached.

        Raises :class:`AnalysisError`, its message naming the file.
        """
        try:
            return self._run(out, progress)
        except (AnalysisError, ModelMissing) as exc:
            reason = str(exc)
            raise AnalysisError(reason if str(self.path) in reason else f"{self.path}: {reason}") from None


def prepare(path: Path, options: FileOptions) -> Job:
    """Check ``path`` (a video or an XDF recording); raises :class:`AnalysisError` saying why it cannot be used."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise AnalysisError(f"{path}: no such file")
    if suffix in VIDEO_SUFFIXES:
        tracks = video_tracks(path, options.audio, options.person, options.sides)
        return Job(
            path,
            "video",
            media_duration_s(tracks),
            lambda out, progress: analyze_video(tracks, out, model_dir=options.model_dir, progress=progress),
        )
    if suffix != ".xdf":
        raise AnalysisError(f"{path}: not a video ({', '.join(VIDEO_SUFFIXES)}) nor an XDF recording (.xdf)")
    if options.audio is not None:
        raise AnalysisError(f"{path}: a separate audio file goes with a video, not with an XDF recording")
    try:
        unfinished = is_unfinished(path)
    except XdfFormatError:  # not XDF at all: read_xdf says so
        unfinished = False
    recording = _read_unfinished(path, options.assign) if unfinished else read_xdf(path, options.assign)
    warning = (
        f"{path} was not closed (its recorder stopped early: a crash, a kill or a full disk); it was analysed "
        f"up to its last whole chunk. `dyadscope repair {path}` closes it"
    )
    return Job(
        path,
        "xdf",
        recording_seconds(recording),
        lambda out, progress: analyze(recording, out, progress=progress),
        warning if unfinished else None,
    )


def _read_unfinished(path: Path, overrides: tuple[Override, ...]) -> Recording:
    """A recording that was never closed, read from a repaired copy (its torn end cut, footers added).

    The file itself is left as it is: repairing it is the user's call.
    """
    with tempfile.TemporaryDirectory(prefix="dyadscope-analyze-") as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        try:
            repair(copy)
        except Exception as exc:  # a damaged file fails the reading in many ways (see repair_each)
            raise AnalysisError(f"{path}: not closed, and too damaged to read ({type(exc).__name__}: {exc})") from None
        return replace(read_xdf(copy, overrides), path=path)


def read_xdf(path: Path, overrides: tuple[Override, ...] = ()) -> Recording:
    """The recording at ``path``; raises :class:`AnalysisError` if it is not XDF."""
    try:
        return load_recording(path, overrides=overrides)
    except Exception as exc:  # pyxdf raises many kinds on files that are not XDF
        raise AnalysisError(f"{path}: cannot read it as XDF ({type(exc).__name__}: {exc})") from None


def recording_seconds(recording: Recording) -> float:
    """The longest stream's span (s)."""
    return max((float(s.timestamps[-1] - s.timestamps[0]) for s in recording.streams if len(s)), default=0.0)


@dataclass(frozen=True)
class SummaryRow:
    """One file of a folder: ``status`` "ok" or why it failed; counts of the main measures."""

    file: str
    kind: str
    status: str
    seconds: float = 0.0
    events: int = 0
    face_affect: int = 0
    voice_segment: int = 0
    movement: int = 0
    dissonance: int = 0
    heart_rate: int = 0
    sync: int = 0
    out: str = ""


def analysable_files(folder: Path) -> list[Path]:
    """The videos and XDF recordings at the top of ``folder``, by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in ANALYSABLE)


def output_names(files: list[Path]) -> dict[Path, str]:
    """Each file's results folder: its stem, with its suffix where two files share a stem."""
    stems = [f.stem for f in files]
    return {f: f.stem if stems.count(f.stem) == 1 else f"{f.stem}_{f.suffix.lstrip('.')}" for f in files}


def analyze_one(path: Path, out: Path, options: FileOptions) -> SummaryRow:
    """One file of a folder, its failure (one line) in the row rather than raised."""
    kind = "video" if path.suffix.lower() in VIDEO_SUFFIXES else "xdf"
    try:
        job = prepare(path, options)
        result = job.run(out)
    except AnalysisError as exc:
        return SummaryRow(path.name, kind, str(exc))
    except Exception as exc:  # one broken file must not end the batch; its reason goes in the table
        log.error("%s: analysis failed (%s)", path.name, type(exc).__name__)
        return SummaryRow(path.name, kind, f"failed: {type(exc).__name__}: {exc}")
    counts = {k: result.events.get(k, 0) for k in SUMMARY_KINDS}
    total = sum(result.events.values())
    status = "ok" if job.warning is None else "ok, unfinished: run dyadscope repair on it"
    status = "; ".join([status, *result.notes])
    return SummaryRow(path.name, kind, status, round(job.duration_s, 3), total, **counts, out=str(out))


def _one_core() -> None:
    """A worker's set-up: OpenCV on one thread (models and decoders are already)."""
    import cv2

    cv2.setNumThreads(1)
    os.environ["OMP_NUM_THREADS"] = "1"


def analyze_folder(
    folder: Path,
    out: Path,
    options: FileOptions,
    workers: int | None = None,
    done: Callable[[SummaryRow], None] | None = None,
) -> list[SummaryRow]:
    """Analyse every file of ``folder`` into ``out/<name>/`` over ``workers`` processes (default: the cores).

    ``done`` is called as each file finishes; rows come back in file order.
    Raises :class:`AnalysisError` if the folder holds nothing to analyse.
    """
    files = analysable_files(folder)
    if not files:
        raise AnalysisError(f"{folder}: no videos ({', '.join(VIDEO_SUFFIXES)}) or XDF recordings in it")
    if options.audio is not None:
        raise AnalysisError("a separate audio file goes with one video, not with a folder")
    names = output_names(files)
    workers = max(1, min(workers or os.cpu_count() or 1, len(files)))
    rows: dict[Path, SummaryRow] = {}
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_one_core) as pool:
        futures = {pool.submit(analyze_one, f, out / names[f], options): f for f in files}
        for future in as_completed(futures):
            rows[futures[future]] = row = future.result()
            if done is not None:
                done(row)
    return [rows[f] for f in files]


def write_summary(rows: list[SummaryRow], path: Path) -> Path:
    """The summary table as CSV (one row per file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, [field.name for field in fields(SummaryRow)])
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
    return path
