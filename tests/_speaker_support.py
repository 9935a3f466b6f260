"""Two distinct synthetic speakers (espeak-ng voices reshaped by sox) and turn-taking tracks."""

from __future__ import annotations

import subprocess

import numpy as np

RATE = 16000
#: espeak-ng voice arguments and sox effects per person: a low, bass-heavy male and a high, bright female.
VOICES = {
    "patient": (["-v", "en-us+m3", "-s", "150"], ["pitch", "-250", "bass", "+6"]),
    "therapist": (["-v", "en-gb+f4", "-s", "170"], ["pitch", "200", "treble", "+5"]),
}
ENROLMENT = {
    "patient": "I have been feeling anxious all week and I could not sleep well at night. "
    "My work has been very stressful lately.",
    "therapist": "Thank you for coming today. Let us start by talking about how your week has been going so far.",
}
TURNS = [
    ("patient", "It started on Monday morning."),
    ("therapist", "Tell me more about that."),
    ("patient", "My boss shouted at me in front of everyone."),
    ("therapist", "How did that make you feel?"),
    ("patient", "Embarrassed, and then angry."),
    ("therapist", "That sounds really hard."),
    ("patient", "Yes, it was."),
    ("therapist", "What did you do next?"),
    ("patient", "I went home early and stayed in bed."),
    ("therapist", "Did you talk to anyone about it?"),
]


def say(role: str, text: str) -> np.ndarray:
    """``text`` in ``role``'s voice, 16 kHz mono float32."""
    args, effects = VOICES[role]
    made = subprocess.run(["espeak-ng", *args, "--stdout", text], check=True, capture_output=True).stdout
    cmd = ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", "-"]
    raw = subprocess.run([*cmd, *effects], input=made, check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def turn_tracks(turns: list[tuple[str, np.ndarray]], gap_s: float = 0.7) -> tuple[dict, list[tuple[str, float, float]]]:
    """Each person's own track of the conversation (silence while the other speaks) and the turns' spans (s)."""
    roles = sorted({r for r, _ in turns})
    tracks = {r: [np.zeros(int(0.5 * RATE), np.float32)] for r in roles}
    spans, t = [], 0.5
    for role, audio in turns:
        loud = np.flatnonzero(np.abs(audio) > 0.01)
        spans.append((role, t + loud[0] / RATE, t + (loud[-1] + 1) / RATE))
        padded = np.concatenate((audio, np.zeros(int(gap_s * RATE), np.float32)))
        for r in roles:
            tracks[r].append(padded if r == role else np.zeros_like(padded))
        t += padded.size / RATE
    return {r: np.concatenate(parts) for r, parts in tracks.items()}, spans
