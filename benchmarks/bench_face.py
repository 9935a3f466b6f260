"""Cost of the face front end on one CPU core: detection, mesh, the whole face pipeline, live.

1. Detection per 640×480 frame with one real face (scikit-image's astronaut):
   BlazeFace full and short range against the old path, OpenCV's Haar
   cascade with the settings DyadScope used (gray, equalised, searched at
   400 px wide, scale step 1.15, 5 neighbours, faces ≥ 8 % of the width),
   side by side in this run. The Haar reference lives only here. OpenCV 5
   has no Haar cascades, so with ``--haar-opencv DIR`` (an OpenCV 4 installed
   there: ``pip install --target DIR 'opencv-python-headless<5'``) the same
   frames are timed through it in a child process of this run.
2. FaceMesh per face (crop, inference, pose) and the aligned crop.
3. The face pipeline per face (detection every 5th frame, template tracking,
   mesh, aligned crop, fer affect, smoothing): frames/s.
4. Live: one 15 fps 640×480 camera through ``dyadscope serve --media``, with
   one face and with none (what decoding and the service cost without the
   face models): the service process's CPU time per second of media, as the
   difference of a long and a short run (so start-up and model loading
   cancel), in % of one core.

Models and OpenCV run single-threaded, as the service does on a shared CPU.

    .venv/bin/python benchmarks/bench_face.py [--quick] [--haar-opencv DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from dyadscope.models.build import DEFAULT_MODELS, build_defaults
from dyadscope.models.library import ModelLibrary
from dyadscope.models.runtime import RuntimeOptions, default_model_dir
from dyadscope.perception._face_mesh import aligned_crop, eye_roll, load_mesher
from dyadscope.perception.face import FaceAnalyzer
from dyadscope.perception.face_detect import load_detector
from dyadscope.perception.face_track import FaceTracker
from dyadscope.perception.people import CameraView
from dyadscope.stream.frames import VideoFrame

FPS = 15


def face_frame() -> np.ndarray:
    """640×480 BGR with the astronaut's face (about 100 px wide)."""
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[:, 80:560] = cv2.resize(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR), (480, 480))
    return canvas


def haar_detect(cascade, image: np.ndarray) -> list:
    """The old Haar path: gray, 400 px wide, equalised, DyadScope's settings."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = 400 / gray.shape[1]
    small = cv2.resize(gray, (400, int(gray.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    side = max(20, int(0.08 * 400))
    return list(cv2.CascadeClassifier.detectMultiScale(cascade, cv2.equalizeHist(small), 1.15, 5, minSize=(side, side)))


def per_call_ms(call, frames: list[np.ndarray]) -> float:
    """Best of three passes over ``frames`` (the machine is shared), ms per call."""
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        for frame in frames:
            call(frame)
        best = min(best, (time.perf_counter() - start) / len(frames))
    return best * 1000


def haar_ms(frames: list[np.ndarray]) -> float | None:
    """The Haar path's ms per frame with this process's OpenCV; None where it has no cascades (OpenCV 5)."""
    if not hasattr(cv2, "CascadeClassifier"):
        return None
    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
    return per_call_ms(lambda f: haar_detect(cascade, f), frames)


def haar_ms_with(opencv_dir: Path, frames: list[np.ndarray]) -> tuple[float, str]:
    """:func:`haar_ms` in a child process whose OpenCV comes from ``opencv_dir``; (ms, its OpenCV version)."""
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "frames.npy", np.stack(frames))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(opencv_dir), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run(
            [sys.executable, __file__, "--haar-frames", str(Path(tmp) / "frames.npy")],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    ms, version = done.stdout.split()
    return float(ms), version


def bench_detection(library: ModelLibrary, frames: list[np.ndarray], opencv_dir: Path | None) -> list[tuple[str, str]]:
    """Detection per frame, against the Haar reference in this OpenCV or the one in ``opencv_dir``."""
    haar, version = haar_ms(frames), cv2.__version__
    if haar is None and opencv_dir is not None:
        haar, version = haar_ms_with(opencv_dir, frames)
    rows = [(f"detection: Haar (old path, OpenCV {version}), ms/frame", f"{haar:.1f}" if haar else "no Haar here")]
    for name in ("blazeface_full", "blazeface_short"):
        detector = load_detector(library, name)
        ms = per_call_ms(detector.detect, frames)
        rows.append((f"detection: {name}, ms/frame", f"{ms:.1f}"))
        if haar:
            rows.append((f"detection: Haar time / {name} time", f"{haar / ms:.1f}"))
    return rows


def bench_mesh(library: ModelLibrary, frames: list[np.ndarray]) -> list[tuple[str, str]]:
    face = load_detector(library).detect(frames[0])[0]
    mesher = load_mesher(library)
    roll = eye_roll(*face.eyes)
    mesh = mesher.mesh(frames[0], face.box, roll)
    return [
        (
            "mesh: FaceMesh per face (crop, inference, pose), ms",
            f"{per_call_ms(lambda f: mesher.mesh(f, face.box, roll), frames):.1f}",
        ),
        ("mesh: aligned crop per face, ms", f"{per_call_ms(lambda f: aligned_crop(f, mesh), frames):.2f}"),
    ]


def bench_pipeline(library: ModelLibrary, frames: list[np.ndarray]) -> list[tuple[str, str]]:
    tracker = FaceTracker(load_detector(library), detect_every=5)
    analyzer = FaceAnalyzer(CameraView(("patient",)), library.face_model(), tracker, mesher=load_mesher(library))
    start = time.perf_counter()
    cpu = time.process_time()
    affect = 0
    for i, image in enumerate(frames):
        affect += sum(f.kind == "face_affect" for f in analyzer.process(VideoFrame(i / FPS, image)))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return [
        ("pipeline: frames with the face's affect / frames", f"{affect} / {len(frames)}"),
        ("pipeline: detect/5 + track + mesh + affect, frames/s per face", f"{len(frames) / wall:.0f}"),
        ("pipeline: CPU per frame, ms", f"{1000 * cpu / len(frames):.1f}"),
    ]


def serve_cpu_s(video: Path, model_dir: Path, seconds: float) -> float:
    """CPU seconds (user + system) of ``dyadscope serve --media`` playing ``video`` for ``seconds``."""
    env = {**os.environ, "DYADSCOPE_MODEL_DIR": str(model_dir), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "dyadscope.service.cli", "serve", "--port", "0", "--session", "bench"]
    cmd += ["--media", f"patient={video}", "--duration", f"{seconds:g}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_live(model_dir: Path, short_s: float, long_s: float) -> list[tuple[str, str]]:
    """Live cost of a camera with the face and of the same camera with no face (the gray background)."""
    rows = []
    scenes = {"one face": face_frame(), "no face": np.full((480, 640, 3), 90, np.uint8)}
    with tempfile.TemporaryDirectory() as tmp:
        for scene, image in scenes.items():
            costs = {}
            for seconds in (short_s, long_s):
                video = Path(tmp) / f"{scene.replace(' ', '_')}_{seconds:g}.mp4"
                cv2.imwrite(str(video.with_suffix(".png")), image)
                cmd = ["ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-framerate", str(FPS), "-i"]
                cmd += [str(video.with_suffix(".png")), "-t", f"{seconds:g}", "-vf", "format=yuv420p", "-r", str(FPS)]
                subprocess.run([*cmd, "-c:v", "mpeg4", "-q:v", "3", str(video)], check=True, capture_output=True)
                costs[seconds] = serve_cpu_s(video, model_dir, seconds + 1.0)
            share = (costs[long_s] - costs[short_s]) / (long_s - short_s)
            rows += [
                (
                    f"live, {scene}: serve --media CPU s for {short_s:g} s / {long_s:g} s of video",
                    f"{costs[short_s]:.1f} / {costs[long_s]:.1f}",
                ),
                (f"live: one 15 fps camera, {scene}, % of a core", f"{100 * share:.1f}"),
            ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs")
    parser.add_argument(
        "--haar-opencv", type=Path, metavar="DIR", default=os.environ.get("DYADSCOPE_HAAR_OPENCV") or None,
        help="an OpenCV 4 for the Haar reference (default $DYADSCOPE_HAAR_OPENCV)",
    )  # fmt: skip
    parser.add_argument("--haar-frames", type=Path, help=argparse.SUPPRESS)  # the child process of --haar-opencv
    args = parser.parse_args()
    cv2.setNumThreads(1)
    if args.haar_frames:
        print(f"{haar_ms(list(np.load(args.haar_frames))):.3f} {cv2.__version__}")
        return
    model_dir = default_model_dir()
    if not all((model_dir / f"{name}.onnx").is_file() for name in DEFAULT_MODELS):
        build_defaults(model_dir)
    library = ModelLibrary(model_dir, RuntimeOptions(intra_op_threads=1))
    base = face_frame()
    frames = [np.roll(base, (i % 20) - 10, axis=1) for i in range(30 if args.quick else 150)]
    rows = bench_detection(library, frames, args.haar_opencv)
    rows += bench_mesh(library, frames)
    rows += bench_pipeline(library, frames * (1 if args.quick else 4))
    rows += bench_live(model_dir, 5.0, 10.0 if args.quick else 35.0)
    rows.append(
        (
            "peak memory of this process (without serve), MiB",
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}",
        )
    )
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
