"""Cost of speaker attribution per second of speech, on CPU, one thread.

Attribution of a speech unit = Resemblyzer's front end in numpy (volume,
mel frames, 1.6 s partials), the converted GE2E encoder on ONNX Runtime, and
the comparison with two enrolled voiceprints. Reference, side by side on the
same units: the same encoder as the numpy reference of the conversion
(:func:`dyadscope.models.convert_resemblyzer.reference_embed`, float64), the
encoder as plain array code without a runtime. Units are 2 s of espeak-ng
speech; the cost is seconds of CPU time per second of speech.

    .venv/bin/python benchmarks/bench_speaker.py [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np

from dyadscope.models.build import DEFAULT_MODELS, build_defaults
from dyadscope.models.convert_resemblyzer import (
    RESEMBLYZER_REQUIREMENT,
    RESEMBLYZER_WEIGHTS,
    reference_embed,
    resemblyzer_weights,
)
from dyadscope.models.library import ModelLibrary
from dyadscope.models.runtime import default_model_dir
from dyadscope.models.speaker_encoder import SpeakerEncoder, partial_mels
from dyadscope.models.wheels import fetch_wheel, read_member
from dyadscope.perception.speakers import Speakers, voice_probabilities

RATE = 16000
UNIT_S = 2.0
TEXT = (
    "I have been feeling anxious all week. It started on Monday morning, when I woke up early. "
    "Tell me more about that. What happened next? I went to work, but I could not focus at all. "
)


def speech(voice: str, repeats: int) -> np.ndarray:
    """espeak-ng speech in ``voice``, 16 kHz float32."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", TEXT * repeats], check=True, capture_output=True)
    cmd = ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", "-"]
    raw = subprocess.run(cmd, input=wav.stdout, check=True, capture_output=True).stdout
    return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0


def _units(signal: np.ndarray) -> list[np.ndarray]:
    step = int(UNIT_S * RATE)
    return [signal[i : i + step] for i in range(0, signal.size - step + 1, step)]


def bench(library: ModelLibrary, weights: dict, repeats: int) -> list[tuple[str, str]]:
    speakers = Speakers(SpeakerEncoder(*library.session("speaker_encoder")))
    speakers.enrol("patient", speech("en-us+m3", 1))
    speakers.enrol("therapist", speech("en-gb+f4", 1))
    units = _units(speech("en-us+m3", repeats))
    seconds = len(units) * UNIT_S
    start = time.process_time()
    for unit in units:
        speakers.attribute(unit, 0.0, UNIT_S)
    ours = (time.process_time() - start) / seconds
    prints = speakers.voiceprints()
    start = time.process_time()
    for unit in units:
        mean = reference_embed(weights, partial_mels(unit)).mean(axis=0)
        voice_probabilities(mean / np.linalg.norm(mean), prints)
    reference = (time.process_time() - start) / seconds
    return [
        ("speech attributed", f"{seconds:.0f} s in {len(units)} units of {UNIT_S:.0f} s"),
        ("attribution (ONNX encoder), CPU s per s of speech", f"{ours:.4f}"),
        ("reference (numpy encoder), CPU s per s of speech", f"{reference:.4f}"),
        ("ratio ours / reference", f"{ours / reference:.3f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run")
    args = parser.parse_args()
    model_dir = default_model_dir()
    if not all((model_dir / f"{name}.onnx").is_file() for name in DEFAULT_MODELS):
        build_defaults(model_dir)
    weights = resemblyzer_weights(
        read_member(fetch_wheel(RESEMBLYZER_REQUIREMENT, model_dir / "wheels"), RESEMBLYZER_WEIGHTS)
    )
    for name, value in bench(ModelLibrary(model_dir), weights, 1 if args.quick else 4):
        print(f"{name:<52}{value:>24}")


if __name__ == "__main__":
    main()
