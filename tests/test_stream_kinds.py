"""The codebook covers the wire: every kind and field a session emits, every kind the source names.

The session test runs a real session (the service's session manager, the
default pipeline, a recording) in data time: simulated ECG, RSP and EDA of
both people, the patient's face (real frames through the face analyzer) and
voice (espeak-ng speech through Silero VAD), the therapist's face and voice
affect as LSL affect streams, a resting baseline, a marker, and past sessions
in the history so deviations come. The LSL test adds the ingest's statuses
from real outlets.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import uuid
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from _models_support import default_models, espeak, face_scene, speech_track

from dyadscope.models.library import ModelLibrary
from dyadscope.models.vad import VadStream, direct_scorer
from dyadscope.perception.face import FaceAnalyzer
from dyadscope.perception.face_detect import load_detector
from dyadscope.perception.face_track import FaceTracker
from dyadscope.perception.movement import MotionEnergy
from dyadscope.perception.people import CameraView
from dyadscope.perception.voice import VoiceAnalyzer
from dyadscope.sensors.simulate import SimulatedDyad
from dyadscope.service.config import Config
from dyadscope.service.sessions import SessionManager
from dyadscope.stream import kinds
from dyadscope.stream.bus import MemoryBus
from dyadscope.stream.frames import VideoFrame
from dyadscope.stream.kinds import ENVELOPE, KINDS
from dyadscope.stream.processors.physio.history import MEASURES, History
from dyadscope.stream.types import ROLES, Chunk, Feature, StreamInfo
from dyadscope.stream.wire import to_json

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = ("stream", "perception", "service", "sensors", "xdf", "offline", "models")
#: Calls whose first argument is an event kind: features, and the ingest's and sessions' statuses.
KIND_CALLS = {"Feature", "_status", "_report", "report", "status"}
#: Names that hold a feature or an event where the source compares ``.kind`` with a literal.
EVENT_NAMES = {"feature", "event", "f", "e", "item"}

START = 1000.0  # session clock at the simulation's start (s)
SECONDS = 240.0  # data time simulated
BASELINE_S = 60.0
MEDIA_AT = 150.0  # when the patient's face and voice play (s from the start)
PARTICIPANTS = {"patient": "P01", "therapist": "T01"}
#: Kinds the session must emit (the rest need rare conditions: see the LSL test, or only the static test;
#: a desync flag needs a lost in-sync stretch, longer than this session: tests/test_dyadic_synchrony.py;
#: coregulation needs 502 s of data: tests/test_dyadic_coregulation.py checks its fields).
EXPECTED = {
    kinds.RPEAK, kinds.HEART_RATE, kinds.EDA, kinds.SCR, kinds.SCR_RATE, kinds.BREATH, kinds.BREATHING_RATE,
    kinds.RSA, kinds.BASELINE, kinds.BASELINE_START, kinds.DEVIATION, kinds.QUALITY, kinds.SYNC, kinds.SYNC_STATE,
    kinds.SYNC_INDEX,
    kinds.SYNC_FLEXIBILITY, kinds.CONCORDANCE, kinds.DISSONANCE, kinds.FACE_AFFECT,
    kinds.FACE_TRACKED, kinds.MOVEMENT, kinds.VOICE_SEGMENT, kinds.TALK_BALANCE, kinds.MARKER, kinds.RECORDING_STARTED,
    kinds.RECORDING_STOPPED,
}  # fmt: skip


def _problems(events: list[dict]) -> list[str]:
    """Every way the events depart from the codebook: unknown kind or field, wrong type, missing field, role."""
    problems = []
    for event in events:
        kind = KINDS.get(event["kind"])
        if kind is None:
            problems.append(f"kind {event['kind']!r} is not in the codebook")
            continue
        envelope = {name: event.get(name) for name in ENVELOPE}
        problems += [f"envelope {n}={v!r}" for n, v in envelope.items() if not ENVELOPE[n].accepts(v)]
        if not kind.role and event["role"] is not None:
            problems.append(f"{kind.name} has role {event['role']!r} but is dyadic or session-wide")
        data = event["data"]
        problems += [f"{kind.name}.{f} is not in the codebook" for f in data if f not in kind.fields]
        problems += [
            f"{kind.name}.{name} = {data[name]!r} is not {spec.type}"
            for name, spec in kind.fields.items()
            if name in data and not spec.accepts(data[name])
        ]
        problems += [
            f"{kind.name}.{name} is missing but not optional"
            for name, spec in kind.fields.items()
            if name not in data and not spec.optional
        ]
    return sorted(set(problems))


# -- the static check ------------------------------------------------------------


def _literal_kinds(node: ast.AST) -> list[str]:
    """Kinds a node names: a string constant, a ``kinds.<NAME>`` constant, or those of a tuple, list or set."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "kinds":
        return [getattr(kinds, node.attr, f"kinds.{node.attr}")]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [k for element in node.elts for k in _literal_kinds(element)]
    return []


def _is_kind_of_event(node: ast.AST) -> bool:
    """``feature.kind``, ``event.kind`` ... or ``anything["kind"]``."""
    if isinstance(node, ast.Attribute):
        return node.attr == "kind" and isinstance(node.value, ast.Name) and node.value.id in EVENT_NAMES
    return isinstance(node, ast.Subscript) and _literal_kinds(node.slice) == ["kind"]


def named_kinds(source: str) -> list[tuple[int, str]]:
    """(line, kind) for every kind a Python source names, literally or by constant: in kind calls and comparisons."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name in KIND_CALLS:
                argument = (
                    node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "kind"), None)
                )
                found += [(node.lineno, k) for k in _literal_kinds(argument)] if argument is not None else []
        elif isinstance(node, ast.Compare) and _is_kind_of_event(node.left):
            found += [(node.lineno, k) for c in node.comparators for k in _literal_kinds(c)]
    return found


def page_kinds(script: str) -> list[str]:
    """Kinds a page names: ``K.<kind>`` after ``DyadScope.kindNames(...)``, its arguments, ``kind === "..."``."""
    listed = [s for args in re.findall(r"kindNames\(([^)]*)\)", script) for s in re.findall(r'"([^"]+)"', args)]
    used = re.findall(r"\bK\.([A-Za-z_]+)", script) + re.findall(r"\.kind\s*===?\s*\"([^\"]+)\"", script)
    return listed + used


def test_every_kind_the_source_names_is_in_the_codebook():
    unknown, named = [], 0
    for folder in SOURCE_ROOTS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, kind in named_kinds(path.read_text(encoding="utf-8")):
                named += 1
                if kind not in KINDS:
                    unknown.append(f"{path.relative_to(ROOT)}:{line}: {kind!r}")
    for path in sorted((ROOT / "client" / "static").glob("*.js")):
        unknown += [
            f"{path.relative_to(ROOT)}: {k!r}" for k in page_kinds(path.read_text(encoding="utf-8")) if k not in KINDS
        ]
    assert not unknown, "kinds not in stream/kinds.py:\n" + "\n".join(unknown)
    assert named > 0  # the scan found the kinds the source names (processors, app)


def test_the_static_scan_sees_the_forms_kinds_are_named_in():
    source = 'Feature("a", None, 0, {})\nFeature(kind="b", role=None, t=0, data={})\nself._status("c", "m")\n'
    source += 'if feature.kind == "d" or event["kind"] in ("e", "f"):\n    pass\nif track.kind == "video":\n    pass\n'
    assert [k for _, k in named_kinds(source)] == ["a", "b", "c", "d", "e", "f"]
    assert page_kinds('const K = DyadScope.kindNames("x", "y");\n[K.z]: f, if (e.kind === "w")') == ["x", "y", "z", "w"]


def test_the_codebook_checker_catches_what_it_should():
    good = {"session": "s", "seq": 1, "t": 1.0, "t_emit": 2.0, "role": "patient"}
    event = {**good, "kind": kinds.RPEAK, "data": {"ibi_ms": 800.0}}
    assert _problems([event]) == []
    assert _problems([{**event, "data": {"ibi_ms": None}}]) == []  # nullable
    assert _problems([{**event, "data": {"ibi_ms": "800"}}]) == ["rpeak.ibi_ms = '800' is not float | null"]
    assert _problems([{**event, "data": {}}]) == ["rpeak.ibi_ms is missing but not optional"]
    assert _problems([{**event, "data": {"ibi_ms": 1.0, "bpm": 1.0}}]) == ["rpeak.bpm is not in the codebook"]
    assert _problems([{**event, "kind": "heartrate"}]) == ["kind 'heartrate' is not in the codebook"]
    assert _problems([{**event, "kind": kinds.MARKER, "data": {"text": "x"}}]) == [
        "marker has role 'patient' but is dyadic or session-wide"
    ]
    with pytest.raises(ValueError, match="unknown field type"):
        kinds.Field("number", None, "not a type")


# -- a session with every stream type, in data time ------------------------------


def _affect_streams() -> tuple[StreamInfo, StreamInfo]:
    face = StreamInfo(
        "therapist face affect", "FaceAffect", 2, 5.0, role="therapist", channel_labels=("valence", "arousal")
    )
    voice = StreamInfo(
        "therapist voice affect",
        "VoiceAffect",
        3,
        0.0,
        role="therapist",
        channel_labels=("valence", "arousal", "duration_s"),
    )
    return face, voice


def _affect_chunks(face: StreamInfo, voice: StreamInfo, t0: float, t1: float) -> list[Chunk]:
    """The therapist's face (5 Hz) and voice (a 2 s segment every 4 s, ending on the multiple) affect in [t0, t1)."""
    times = np.arange(np.ceil(t0 * 5) / 5, t1, 0.2)
    out = (
        [Chunk(face, times, np.column_stack([0.4 * np.sin(times / 7), 0.3 * np.cos(times / 5)]))] if times.size else []
    )
    ends = np.arange(np.ceil(t0 / 4) * 4, t1, 4.0)
    if ends.size:
        out.append(
            Chunk(
                voice, ends, np.column_stack([np.full(ends.size, np.nan), 0.2 * np.sin(ends), np.full(ends.size, 2.0)])
            )
        )
    return out


def _media_features(library: ModelLibrary, t0: float) -> list[Feature]:
    """The patient's face (found, then lost) and voice, analysed from real frames and real speech at ``t0``."""
    signal, _ = speech_track(
        [espeak("I have been feeling anxious all week."), espeak("It started on Monday.")], [0.6, 0.8]
    )
    seconds = signal.size / 16000
    face = FaceAnalyzer(
        CameraView(("patient",)), library.face_model(), FaceTracker(load_detector(library), detect_every=3)
    )
    motion = MotionEnergy(CameraView(("patient", "therapist")))
    scene = face_scene()
    features = []
    for i in range(int((seconds + 1.0) * 10)):  # 10 frames a second, the face swaying; then an empty view
        frame = VideoFrame(t0 + i / 10, np.roll(scene, int(8 * np.sin(i / 5)), axis=1))
        features += face.process(frame) + motion.process(frame)
    for i in range(10):
        blank = VideoFrame(t0 + seconds + 1.0 + i / 10, np.full_like(scene, 90))
        features += face.process(blank)
    session, _ = library.session("silero_vad")
    voice = VoiceAnalyzer("patient", VadStream(direct_scorer(session)))
    microphone = StreamInfo("patient microphone", "Audio", 1, 16000, role="patient")
    for i in range(0, signal.size, 320):
        part = signal[i : i + 320]
        features += voice.process(Chunk(microphone, t0 + (i + np.arange(part.size)) / 16000, part[:, None]))
    return sorted(features, key=lambda f: f.t)


def _feed(session, loop, media: list[Feature]) -> None:
    """From a sensor's thread: the dyad and the affect streams in 0.5 s steps, the media features at their time."""
    dyad = SimulatedDyad(11, start_time=START)
    face, voice = _affect_streams()

    def publish(features: list[Feature]) -> None:
        asyncio.run_coroutine_threadsafe(session.publish(features), loop).result()

    publish([Feature(kinds.BASELINE_START, None, START, {"duration_s": BASELINE_S, "roles": list(ROLES)})])
    t = START
    while t < START + SECONDS:
        until = t + 0.5
        for chunk in dyad.read_until(until) + _affect_chunks(face, voice, t, until):
            session.submit(chunk)
        due = [f for f in media if t <= f.t < until]
        if due:
            publish(due)
        if t <= START + 100.0 < until:
            publish([Feature(kinds.MARKER, None, until, {"text": "patient cries"})])
        t = until


def _seed_history(data_dir: Path) -> None:
    """Three past sessions per person, so the live values get deviations."""
    with History(data_dir) as history:
        for k in range(3):
            values = {m: (10.0 + k if "scr" not in m else 2.0 + 0.5 * k) for m in MEASURES}
            values.update(session_heart_rate_bpm=68.0 + 3 * k, session_eda_tonic_us=2.0 + 0.3 * k)
            for participant in PARTICIPANTS.values():
                history.record(participant, f"past{k}", values)


async def _session_events(tmp_path: Path, media: list[Feature]) -> list[dict]:
    config = Config.from_env({}, data_dir=tmp_path / "data", baseline_s=BASELINE_S)
    _seed_history(config.data_dir)
    bus = MemoryBus(maxlen=1_000_000)
    manager = SessionManager(config, bus)
    session = await manager.create("kinds", lsl=False, participants=PARTICIPANTS)
    try:
        await manager.start_recording("kinds", subject="P01", session="1")
        await asyncio.to_thread(_feed, session, asyncio.get_running_loop(), media)
        await manager.stop_recording("kinds")
        await session.stop()  # everything processed and logged
        return await _logged(bus, session.log.topic)
    finally:
        await manager.stop("kinds")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return ModelLibrary(default_models(tmp_path_factory.mktemp("models")))


def test_a_session_with_every_stream_type_emits_only_what_the_codebook_describes(tmp_path, library):
    media = _media_features(library, START + MEDIA_AT)
    events = asyncio.run(_session_events(tmp_path, media))
    assert _problems(events) == []
    seen = {e["kind"] for e in events}
    assert seen >= EXPECTED, f"not emitted: {sorted(EXPECTED - seen)}"
    assert kinds.PROCESSING_ERROR not in seen
    fields_seen = defaultdict(set)
    for event in events:
        fields_seen[event["kind"]] |= set(event["data"])
    optional = {(k, f) for k in seen for f, spec in KINDS[k].fields.items() if spec.optional}
    assert {(k, f) for k, f in optional if f in fields_seen[k]} >= {
        (kinds.FACE_AFFECT, "model"), (kinds.FACE_TRACKED, "box"), (kinds.VOICE_SEGMENT, "model")
    }  # fmt: skip
    recordings = list((tmp_path / "data" / "recordings").rglob("*.xdf"))
    assert len(recordings) == 1  # the events went into the recording too


def test_derived_xdf_streams_declare_units_from_the_codebook(tmp_path):
    from dyadscope.stream.types import Event
    from dyadscope.xdf.reader import load_recording
    from dyadscope.xdf.recorder import Recorder

    data = {"bpm": 70.0, "ibi_ms": 857.0, "beats": 12, "quality": "good", "reason": None}
    with Recorder(tmp_path / "units.xdf", {"session": "units"}) as recorder:
        recorder.write_events([Event("units", 1, START, START, kinds.HEART_RATE, "patient", data)])
    derived = next(s for s in load_recording(recorder.path).streams if s.info.name.startswith("DyadScope heart_rate"))
    units = dict(zip(derived.info.channel_labels, derived.info.units))
    assert units == {f: kinds.unit(kinds.HEART_RATE, f) for f in ("beats", "bpm", "ibi_ms")}


# -- the ingest's statuses, from real LSL outlets ---------------------------------


async def _logged(bus: MemoryBus, topic: str) -> list[dict]:
    return [json.loads(to_json(message)) for _, message in await bus.read(topic, 0, limit=1_000_000)]


async def _wait_for(bus: MemoryBus, topic: str, wanted: set[str], step=None, timeout_s: float = 8.0) -> None:
    """Until the log holds every kind in ``wanted``, calling ``step()`` (if given) every 0.1 s."""
    for _ in range(int(timeout_s / 0.1)):
        if step is not None:
            step()
        await asyncio.sleep(0.1)
        if wanted <= {e["kind"] for e in await _logged(bus, topic)}:
            return


def test_the_lsl_ingest_statuses_are_in_the_codebook(tmp_path):
    import pylsl  # after dyadscope.sensors.lsl has configured liblsl

    from dyadscope.sensors.lsl import local_clock
    from dyadscope.sensors.lsl_outlets import lsl_stream_info

    tag = uuid.uuid4().hex[:8]

    def outlet(name: str, rate: float) -> pylsl.StreamOutlet:
        info = StreamInfo(f"{name} {tag}", "ECG", 1, rate, "float32", source_id=f"kinds-{tag}-{name}", role="patient")
        return pylsl.StreamOutlet(lsl_stream_info(info))

    def nan_samples() -> None:  # ten a push, until the ingest says so
        good.push_chunk([[float("nan")]] * 10, (local_clock() + np.arange(10) / 100.0).tolist())

    async def run() -> list[dict]:
        nonlocal good
        manager = SessionManager(Config.from_env({}, data_dir=tmp_path / "data"), bus := MemoryBus())
        session = await manager.create("lsl", select=lambda i: i.source_id.startswith(f"kinds-{tag}"))
        topic = session.log.topic
        try:
            await _wait_for(bus, topic, {kinds.STREAM_FOUND, kinds.CLOCK_OFFSET, kinds.STREAM_INVALID})
            await _wait_for(bus, topic, {kinds.STREAM_QUALITY}, step=nan_samples)
            good = None  # the outlet closes
            await _wait_for(bus, topic, {kinds.STREAM_LOST})
            return await _logged(bus, topic)
        finally:
            await manager.stop("lsl")

    good = outlet("patient ecg", 100.0)
    slow = outlet("patient ecg slow", 1.0)  # no plausible ECG rate: invalid
    events = asyncio.run(run())
    del slow
    assert _problems(events) == []
    seen = {e["kind"] for e in events}
    expected = {kinds.STREAM_FOUND, kinds.CLOCK_OFFSET, kinds.STREAM_INVALID, kinds.STREAM_QUALITY, kinds.STREAM_LOST}
    assert seen >= expected, f"not emitted: {sorted(expected - seen)}"
