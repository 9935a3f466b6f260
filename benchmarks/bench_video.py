"""Offline video analysis speed: ``dyadscope analyze VIDEO`` for one face and one voice on one core.

A 640×480, 15 fps MPEG-4 video of a real face (scikit-image's astronaut,
swaying gently) with espeak-ng speech as its AAC audio, made here by ffmpeg,
is analysed end to end as ``dyadscope analyze talk.mp4 --person patient``
does it (:func:`dyadscope.offline.video.analyze_video`: model loading,
decoding, movement of every frame, faces every 0.125 s of video, speech
units, the pipeline, the tables). Models, OpenCV and the decoder run on one
thread. The speed is seconds of video per CPU second (× real time on one
core; target ≥ 10×); wall-clock speed is printed too, but on a shared
machine CPU time is what to compare. Reference, side by side: decoding
alone (PyAV, frames to BGR, audio to 16 kHz), the floor under any analysis.

    .venv/bin/python benchmarks/bench_video.py [--quick]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
import time
import wave
from pathlib import Path

import cv2
from bench_face import FPS, face_frame
from bench_speaker import RATE, speech

from dyadscope.models.build import DEFAULT_MODELS, build_defaults
from dyadscope.models.runtime import default_model_dir
from dyadscope.offline.video import analyze_video, video_tracks
from dyadscope.sensors.av_tracks import audio_stream_info
from dyadscope.sensors.media_decode import audio_chunks, probe, video_frames


def talk_video(folder: Path, repeats: int) -> Path:
    """The astronaut's face, swaying, with ``repeats`` passes of espeak-ng speech as its audio."""
    wav, image, video = folder / "talk.wav", folder / "face.png", folder / "talk.mp4"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((speech("en-us+m3", repeats) * 32767).astype("<i2").tobytes())
    cv2.imwrite(str(image), face_frame())
    sway = "pad=720:540:40:30,crop=640:480:40+30*sin(2*PI*t/3):30+10*sin(2*PI*t/2),format=yuv420p"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-framerate", str(FPS), "-i", str(image), "-i", str(wav)]
    cmd += ["-vf", sway, "-r", str(FPS), "-c:v", "mpeg4", "-q:v", "3", "-c:a", "aac", "-shortest", str(video)]
    subprocess.run(cmd, check=True, capture_output=True)
    return video


def _timed(work) -> tuple[float, float]:
    """CPU and wall seconds of ``work()``."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def _decode_only(video: Path) -> None:
    for _ in video_frames(video):
        pass
    for _ in audio_chunks(video, audio_stream_info("bench", "patient")):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short video")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    model_dir = default_model_dir()
    if not all((model_dir / f"{name}.onnx").is_file() for name in DEFAULT_MODELS):
        build_defaults(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        video = talk_video(Path(tmp), 2 if args.quick else 8)
        seconds = probe(video).duration_s
        tracks = video_tracks(video, person="patient")
        results = []
        cpu, wall = _timed(lambda: results.append(analyze_video(tracks, Path(tmp) / "out", model_dir=model_dir)))
        decode_cpu, _ = _timed(lambda: _decode_only(video))
    events = results[0].events
    rows = [
        ("video analysed (640×480, 15 fps, one face, one voice)", f"{seconds:.1f} s"),
        (
            "face_affect / voice_segment / movement events",
            f"{events['face_affect']} / {events['voice_segment']} / {events['movement']}",
        ),
        ("analysis, CPU s (model loading included)", f"{cpu:.2f}"),
        ("analysis, × real time on one core (CPU)", f"{seconds / cpu:.1f}"),
        ("analysis, × real time (wall clock, shared machine)", f"{seconds / wall:.1f}"),
        ("reference: decoding alone, × real time (CPU)", f"{seconds / decode_cpu:.1f}"),
        ("decoding's share of the analysis", f"{100 * decode_cpu / cpu:.0f} %"),
        ("peak memory of this process, MiB", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
