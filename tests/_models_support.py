"""Shared helpers for the model, media and WebRTC tests.

The default models, models shaped like a contract, real media, a monitor's feed.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import wave
from pathlib import Path

import cv2
import numpy as np
import onnx
import skimage.data
from onnx import TensorProto, helper, numpy_helper
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from dyadscope.models.build import DEFAULT_MODELS, build_defaults

_BUILT: dict[str, Path] = {}


def default_models(base: Path) -> Path:
    """A model directory holding the default models, built once per test run.

    The wheels come from pip (its cache after the first run); set
    DYADSCOPE_TEST_MODEL_DIR to reuse a directory across runs.
    """
    if "dir" not in _BUILT:
        model_dir = Path(os.environ.get("DYADSCOPE_TEST_MODEL_DIR") or base / "models")
        if not all((model_dir / f"{name}.onnx").is_file() for name in DEFAULT_MODELS):
            build_defaults(model_dir)
        _BUILT["dir"] = model_dir
    return _BUILT["dir"]


def audeering_like(path):
    """audeering's contract: signal [1, n] -> logits [1, 3]; arousal = clip(10 * mean|x|), valence = 0.75."""
    nodes = [
        helper.make_node("Abs", ["signal"], ["mag"]),
        helper.make_node("ReduceMean", ["mag", "ax"], ["m"], keepdims=1),
        helper.make_node("Mul", ["m", "ten"], ["a"]),
        helper.make_node("Clip", ["a", "zero", "one"], ["ac"]),
        helper.make_node("Concat", ["ac", "dom", "val"], ["logits"], axis=1),
    ]
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "ax"),
        numpy_helper.from_array(np.array(10.0, np.float32), "ten"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array([[0.5]], np.float32), "dom"),
        numpy_helper.from_array(np.array([[0.75]], np.float32), "val"),
    ]
    graph = helper.make_graph(
        nodes,
        "dim",
        [helper.make_tensor_value_info("signal", TensorProto.FLOAT, [1, "n"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def astronaut_bgr() -> np.ndarray:
    """scikit-image's astronaut (Eileen Collins, smiling), as BGR."""
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def face_scene(width: int = 640, height: int = 480) -> np.ndarray:
    """A ``width``×``height`` BGR frame with the astronaut's face in the middle."""
    canvas = np.full((height, width, 3), 90, np.uint8)
    side = min(width, height)
    x0 = (width - side) // 2
    canvas[:side, x0 : x0 + side] = cv2.resize(astronaut_bgr(), (side, side), interpolation=cv2.INTER_AREA)
    return canvas


def espeak(text: str, rate: int = 16000, pitch: int = 50, amplitude: int = 100) -> np.ndarray:
    """One utterance spoken by espeak-ng, resampled by sox to ``rate`` Hz mono float32."""
    made = subprocess.run(
        ["espeak-ng", "-p", str(pitch), "-a", str(amplitude), "--stdout", text], check=True, capture_output=True
    ).stdout
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer", "-"],
        input=made,
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def speech_track(
    utterances: list[np.ndarray], gaps_s: list[float], rate: int = 16000, lead_s: float = 0.5
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Utterances joined by silences; returns the signal and each utterance's voiced span (s).

    A span runs from the first to the last sample above 1 % of full scale.
    """
    parts, spans, t = [np.zeros(int(lead_s * rate), np.float32)], [], lead_s
    for utterance, gap in zip(utterances, gaps_s, strict=True):
        loud = np.flatnonzero(np.abs(utterance) > 0.01)
        spans.append((t + loud[0] / rate, t + (loud[-1] + 1) / rate))
        parts += [utterance, np.zeros(int(gap * rate), np.float32)]
        t += (utterance.size + int(gap * rate)) / rate
    return np.concatenate(parts), spans


def write_wav(path: Path, signal: np.ndarray, rate: int = 16000) -> Path:
    """Save float samples as 16-bit mono PCM WAV."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def face_video(path: Path, seconds: float, audio: Path | None = None, fps: int = 15) -> Path:
    """A 640×480 video of the astronaut's face, swaying gently, by ffmpeg (with ``audio`` if given).

    ``.y4m`` gives raw frames (what Chromium's fake camera plays); other
    suffixes are encoded with MPEG-4 part 2.
    """
    image = path.with_suffix(".png")
    cv2.imwrite(str(image), face_scene(720, 540))
    sway = "crop=640:480:40+30*sin(2*PI*t/3):30+10*sin(2*PI*t/2)"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-framerate", str(fps), "-i", str(image)]
    if audio is not None:
        cmd += ["-i", str(audio)]
    cmd += ["-t", f"{seconds:g}", "-vf", f"{sway},format=yuv420p", "-r", str(fps)]
    if path.suffix != ".y4m":
        cmd += ["-c:v", "mpeg4", "-q:v", "3"]
        if audio is not None:
            cmd += ["-c:a", "aac", "-shortest"]
    subprocess.run([*cmd, str(path)], check=True, capture_output=True)
    image.unlink()
    return path


class MonitorFeed:
    """What a therapist's monitor receives: the session's websocket, read in a background thread."""

    def __init__(self, url: str, headers: dict[str, str]):
        self.events: list[dict] = []
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()
        assert self._opened.wait(10), "the monitor could not connect"

    def _read(self, url: str, headers: dict[str, str]) -> None:
        with connect(url, additional_headers=headers) as ws:
            self._ws = ws
            self._opened.set()
            try:
                for message in ws:
                    self.events.append(json.loads(message))
            except ConnectionClosed:
                pass

    def of_kind(self, kind: str, since: int = 0) -> list[dict]:
        return [e for e in self.events[since:] if e["kind"] == kind]

    def close(self) -> None:
        self._ws.close()
        self._thread.join(10)
