"""The codebook of the wire: every event kind, once, with its fields, units and meaning.

Every event a session logs (:class:`~dyadscope.stream.types.Event`) has a ``kind`` named here and a ``data``
mapping whose fields are listed under it. Processors, the service, the recorder, the exporters and the pages
all read the names from this module, so a kind or field exists in one place only:

* :class:`Field` -- one data field: ``type`` (``"float"``, ``"int"``, ``"bool"``, ``"str"``, ``"list"``,
  ``"object"``; ``" | null"`` when it may be None), ``unit`` (``"s"``, ``"ms"``, ``"bpm"``, ``"µS"`` ...,
  ``"1"`` for dimensionless, None for text and ids), ``meaning``, ``optional`` (may be absent);
* :class:`Kind` -- one event kind: ``meaning``, ``emitted_by``, ``role`` (whether the event belongs to one
  person; dyadic and session-wide events have ``role`` None) and its fields;
* :data:`KINDS` -- every kind by name; :func:`unit` -- one field's unit; :func:`codebook_json` -- the same as
  JSON for the pages (``GET /api/kinds``);
* :data:`ENVELOPE` -- the fields every event has beside ``data``.

Times (``t``, ``*_t``, ``since`` ...) are on the session clock, in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from dyadscope.stream._codebook import Field, Kind

#: Version of :func:`codebook_json`'s shape.
VERSION = 1


def _f(type_: str, unit: str | None, meaning: str, optional: bool = False) -> Field:
    return Field(type_, unit, meaning, optional)


_KINDS: dict[str, Kind] = {}


def _kind(name: str, emitted_by: str, role: bool, meaning: str, **fields: Field) -> str:
    """Define a kind (once) and return its name, for the module-level constant."""
    if name in _KINDS:
        raise ValueError(f"kind {name!r} defined twice")
    _KINDS[name] = Kind(name, meaning, emitted_by, role, MappingProxyType(fields))
    return name


# fmt: off

#: The fields every event has beside its data (``Event.to_dict()``).
ENVELOPE: Mapping[str, Field] = MappingProxyType({
    "session": _f("str", None, "the session's id"),
    "seq": _f("int", "1", "the event's number in its session's log, from 1, without gaps"),
    "t": _f("float", "s", "data time the event refers to, on the session clock"),
    "t_emit": _f("float", "s", "wall-clock time (Unix) the service logged the event"),
    "kind": _f("str", None, "the event kind (this codebook)"),
    "role": _f("str | null", None, "whose event: patient or therapist; None for the dyad or the session"),
})

_PHYSIO = "stream.processors.physio"
_DYADIC = "stream.processors.dyadic"
_QUALITY = _f("str", None, '"good" or "poor": whether the measure is fit to use (signal quality, plausibility)')
_MODALITY = _f("str", None, "the dyadic modality: eda, heart_rate, rsa, face_valence, vocal_arousal, movement")
_SINCE = _f("float", "s", "when the current state's condition began (window-centre time)")

# -- physiology -------------------------------------------------------------

RPEAK = _kind(
    "rpeak", f"{_PHYSIO}.ecg.HeartRateProcessor", True, "one heartbeat (R-peak), at the R-peak sample's time",
    ibi_ms=_f("float | null", "ms", "interval to the previous beat; None for the first beat and the first after a gap"),
)
HEART_RATE = _kind(
    "heart_rate", f"{_PHYSIO}.ecg.HeartRateProcessor", True,
    "heart rate once per second of data, from the median inter-beat interval of the last window",
    bpm=_f("float", "bpm", "60000 / ibi_ms"),
    ibi_ms=_f("float", "ms", "median inter-beat interval of the beats in the window"),
    beats=_f("int", "1", "beats in the window"),
    quality=_QUALITY,
    reason=_f("str | null", None, "why poor: no_beat, dropout, implausible_rate ... (ecg.REASONS); None when good"),
)
EDA = _kind(
    "eda", f"{_PHYSIO}.eda.EDAProcessor", True, "skin conductance split into tonic level and phasic part, at 4 Hz",
    tonic_us=_f("float", "µS", "tonic skin conductance level (0.05 Hz low-pass)"),
    phasic_us=_f("float", "µS", "phasic skin conductance (0.05 Hz high-pass); what EDA synchrony uses"),
    quality=_QUALITY,
)
SCR = _kind(
    "scr", f"{_PHYSIO}.eda.EDAProcessor", True, "one skin-conductance response, at its peak time",
    onset_t=_f("float", "s", "where the rise got going"),
    peak_t=_f("float", "s", "the response's peak"),
    amplitude_us=_f("float", "µS", "peak minus onset of the phasic signal"),
    rise_time_s=_f("float", "s", "peak_t - onset_t"),
    quality=_QUALITY,
)
SCR_RATE = _kind("scr_rate", f"{_PHYSIO}.eda.EDAProcessor", True, "skin-conductance responses per minute, every second",
    per_min=_f("float", "1/min", "responses that peaked in the last window, per minute observed"),
    window_s=_f("float", "s", "the counting window"), quality=_QUALITY)
BREATH = _kind(
    "breath", f"{_PHYSIO}.respiration.RespirationProcessor", True, "one breath, at its inhalation onset",
    onset_t=_f("float", "s", "inhalation onset (trough)"),
    peak_t=_f("float", "s", "end of inhalation (peak)"),
    next_onset_t=_f("float", "s", "end of exhalation: the next breath's onset"),
    duration_s=_f("float", "s", "next_onset_t - onset_t"),
    depth=_f("float", "a.u.", "peak minus onset of the cleaned signal, in the stream's own units"),
    quality=_QUALITY,
)
BREATHING_RATE = _kind(
    "breathing_rate", f"{_PHYSIO}.respiration.RespirationProcessor", True, "breaths per minute, every second",
    rate_bpm=_f("float | null", "breaths/min", "over the breaths of the last window; None without any"),
    breaths=_f("int", "1", "breaths counted"),
    quality=_QUALITY,
)
RSA = _kind(
    "rsa", f"{_PHYSIO}.rsa.RSAProcessor", True,
    "respiratory sinus arrhythmia every second: peak-to-trough (NeuroKit2 P2T) and spectral (heart period)",
    p2t_ms=_f("float | null", "ms", "peak-to-trough RSA of the latest scored breath"),
    p2t_breath_t=_f("float | null", "s", "onset of that breath"),
    p2t_mean_ms=_f("float | null", "ms", "mean peak-to-trough RSA over the breaths of the last p2t window"),
    breaths_scored=_f("list", None, "[onset_t (s), p2t_ms or None] of every breath scored since the last output"),
    p2t_breaths=_f("int", "1", "defined breath values in p2t_mean_ms"),
    spectral_ln=_f("float | null", "ln(ms²)", "ln power of the heart-period series in 0.12-0.40 Hz"),
    source=_f("str", None, '"rsp" (respiration belt) or "edr" (ECG-derived respiration)'),
    window_s=_f("float", "s", "the spectral window"),
    reactivity_p2t_ms=_f("float | null", "ms", "p2t_mean_ms minus resting; None before the baseline"),
    reactivity_spectral=_f("float | null", "ln(ms²)", "spectral_ln minus resting; None before the baseline"),
    quality=_QUALITY,
)
BASELINE = _kind(
    "baseline", f"{_PHYSIO}.baseline.Baseline", True,
    "a person's resting values, once their baseline phase has ended (None where nothing good was seen)",
    start_t=_f("float", "s", "start of the baseline phase"),
    end_t=_f("float", "s", "end of the baseline phase"),
    rsa_p2t_ms=_f("float | null", "ms", "resting peak-to-trough RSA"),
    rsa_spectral_ln=_f("float | null", "ln(ms²)", "resting spectral RSA"),
    heart_rate_bpm=_f("float | null", "bpm", "resting heart rate"),
    eda_tonic_us=_f("float | null", "µS", "resting tonic skin conductance"),
    scr_per_min=_f("float | null", "1/min", "resting SCR rate"),
    breaths=_f("int", "1", "breaths in the resting RSA"),
)
DEVIATION = _kind(
    "deviation", f"{_PHYSIO}.history.DeviationProcessor", True,
    "a live value against the person's own past sessions (state against trait)",
    measure=_f("str", None, "which session measure (history.LIVE_MEASURES), e.g. session_heart_rate_bpm"),
    value=_f("float", "a.u.", "the live value, in the measure's unit"),
    mean=_f("float", "a.u.", "the person's mean over past sessions, in the measure's unit"),
    sd=_f("float", "a.u.", "their standard deviation over past sessions, in the measure's unit"),
    z=_f("float", "1", "(value - mean) / sd"),
    n=_f("int", "1", "past sessions in the norm"),
)
QUALITY = _kind(
    "quality", f"{_PHYSIO}.quality.QualityProcessor", True, "a stream's signal quality, on every change and every 10 s",
    stream=_f("str", None, "the stream's name"),
    modality=_f("str", None, "the stream's modality (ECG, RSP, EDA ...)"),
    status=_f("str", None, '"good" or "poor"'),
    problems=_f("list", None, "what is wrong: nan, flat, clipping, out_of_range, gap, rate, noisy"),
)

# -- the dyad ---------------------------------------------------------------

SYNC = _kind(
    "sync", f"{_DYADIC}.synchrony.SynchronyProcessor", False,
    "windowed lagged cross-correlation of the two people in one modality (after its preprocessing), every ≤2 s",
    modality=_MODALITY,
    r=_f("float", "1", "signed correlation at the peak of |r| (negative = anti-phase)"),
    abs_r=_f("float", "1", "|r| at the peak: the synchrony the chance level, state and index use"),
    z=_f("float", "1", "Fisher z of r"),
    lag_s=_f("float", "s", "lag at the peak; positive = therapist follows patient"),
    leader=_f("str | null", None, '"patient" (lag > 0), "therapist" (lag < 0), None at lag 0'),
    at_edge=_f("bool", None, "the peak lies at ±max lag, so the true peak may lie beyond"),
    window_s=_f("float", "s", "correlation window"),
    max_lag_s=_f("float", "s", "largest lag searched"),
    t_center=_f("float", "s", "centre of the patient window"),
    chance_r=_f("float | null", "1", "chance level of abs_r: 95th pct. of its surrogates; None while too few"),
    p=_f("float | null", "1", "permutation p-value of abs_r among the surrogates; None while too few"),
    above_chance=_f("bool | null", None, "abs_r > chance_r; None while the surrogates are too few"),
    baseline_n=_f("int", "1", "surrogates behind chance_r and p"),
)
SYNC_STATE = _kind(
    "sync_state", f"{_DYADIC}.synchrony.SynchronyProcessor", False, "the dyad entered or left synchrony in a modality",
    modality=_MODALITY,
    state=_f("str", None, '"in_sync" or "out_of_sync"'),
    since=_SINCE,
    previous=_f("str | null", None, "the state before; None for the first"),
)
SYNC_FLEXIBILITY = _kind(
    "sync_flexibility", f"{_DYADIC}.synchrony.SynchronyProcessor", False,
    "how much synchrony varies and switches, rolling and session-wide",
    modality=_MODALITY,
    sd_z=_f("float | null", "1", "spread of Fisher z over the horizon"),
    mean_z=_f("float | null", "1", "mean Fisher z over the horizon"),
    transitions_per_min=_f("float | null", "1/min", "state transitions per minute over the horizon"),
    sd_z_session=_f("float | null", "1", "spread of Fisher z over the session"),
    transitions_per_min_session=_f("float | null", "1/min", "state transitions per minute over the session"),
    horizon_s=_f("float", "s", "the rolling horizon"),
    n=_f("int", "1", "z values in the horizon"),
)
SYNC_INDEX = _kind(
    "sync_index", f"{_DYADIC}.synchrony.SynchronyProcessor", False,
    "session synchrony against the session's own pseudo-pairs (rMEA-style), every 30 s",
    modality=_MODALITY,
    index_z=_f("float | null", "1", "mean Fisher z of abs_r minus that of its surrogates; ~0 for unrelated people"),
    mean_z=_f("float | null", "1", "mean Fisher z of abs_r over the tested windows"),
    share_above_chance=_f("float | null", "1", "share of tested windows above chance; ~0.05 for unrelated people"),
    windows=_f("int", "1", "windows tested so far"),
)
DESYNC_FLAG = _kind(
    "desync_flag", f"{_DYADIC}.synchrony.SynchronyProcessor", False,
    "synchrony lost: a modality that was in sync has been out of sync too long (once per episode)",
    modality=_MODALITY,
    since=_SINCE,
    out_of_sync_s=_f("float", "s", "how long the dyad has been out of sync"),
    in_sync_s=_f("float", "s", "how long the lost in-sync stretch had lasted"),
)
CONCORDANCE = _kind(
    "concordance", f"{_DYADIC}.concordance.ConcordanceProcessor", False,
    "skin conductance concordance (Marci et al., 2007), every second",
    modality=_f("str", None, '"eda"'),
    r=_f("float | null", "1", "correlation of the two slope series over the latest window"),
    ci=_f("float | null", "1", "ln(Σr⁺ / |Σr⁻|) over the horizon; None while either sum is zero"),
    ci_session=_f("float | null", "1", "the same over the whole session"),
    n=_f("int", "1", "correlations in the horizon"),
    slope_window_s=_f("float", "s", "window of the local slope"),
    window_s=_f("float", "s", "correlation window"),
    horizon_s=_f("float", "s", "rolling horizon of ci"),
)
COREGULATION = _kind(
    "coregulation", f"{_DYADIC}.coregulation.CoregulationProcessor", True,
    "whether a person's next change in arousal depends on the partner's distance from baseline (lagged regression)",
    modality=_f("str", None, "the arousal-like modality: eda_tonic, heart_rate or vocal_arousal"),
    beta_self=_f("float", "1", "pull of one's own distance from baseline (< 0: back toward it)"),
    beta_partner=_f("float", "1", "the coupling: < 0 dampening, > 0 amplification"),
    t_stat=_f("float", "1", "beta_partner over its Newey–West standard error"),
    p_value=_f("float", "1", "t_stat as one more draw from the shifted partners' t (prediction interval)"),
    shifts=_f("int", "1", "time-shifted partners in the null (20 s apart)"),
    pattern=_f("str", None, '"dampening", "amplification" (p_value < alpha) or "neutral"'),
    n=_f("int", "1", "rows in the regression"),
    lag_s=_f("float", "s", "prediction horizon h"),
    window_s=_f("float", "s", "regression window"),
    alpha=_f("float", "1", "the stated false-positive rate"),
)
DISSONANCE = _kind(
    "dissonance", f"{_DYADIC}.dissonance.DissonanceProcessor", True,
    "does the patient's voice say other than their face over one speech segment (at its end); "
    "judged on one scale, or why it cannot be",
    start=_f("float", "s", "segment start"),
    end=_f("float", "s", "segment end"),
    status=_f("str", None, '"judged", "baseline filling" (own baselines not yet there) or "not comparable"'),
    reason=_f("str | null", None, "why the segment was not judged; None when judged"),
    scale=_f("str", None, '"absolute" (both models calibrated) or "relative" (against own running baseline)'),
    voice=_f("object", "1", "voice valence, arousal on the scale ([-1, 1] or baseline spreads); None if not judged"),
    face=_f("object", "1", "the face's confidence-weighted mean valence and arousal over the segment, on the scale"),
    diff=_f("object", "1", "|voice - face| per compared dimension, on the scale"),
    score=_f("float | null", "1", "the largest difference, on the scale; None when not judged"),
    threshold=_f("float", "1", "T on the scale: dissonant when score > T (0.5 absolute, 2 baseline spreads relative)"),
    size=_f("float | null", "1", "score / threshold (over 1 = dissonant); None when not judged"),
    direction=_f("str | null", None, 'the largest difference in words, e.g. "face calm, voice aroused"'),
    dissonant=_f("bool", None, "score > threshold (never while not judged)"),
    crossed=_f("list", None, "dimensions whose difference exceeds T"),
    dimensions=_f("list", None, "dimensions both sides give (without a face in view: those the voice gives)"),
    episode=_f("object | null", None, "when dissonant: {start, end, units} of its run of dissonant segments so far"),
    face_frames=_f("int", "1", "face frames inside the segment"),
)

# -- face and voice ---------------------------------------------------------

FACE_AFFECT = _kind(
    "face_affect", "perception.face.FaceAnalyzer; stream.processors.affect_streams (FaceAffect LSL)", True,
    "a face's valence and arousal in one video frame (in-house: smoothed per face, tau 0.3 s)",
    valence=_f("float | null", "1", "valence on [-1, 1]"),
    arousal=_f("float | null", "1", "arousal on [-1, 1]"),
    face_id=_f("int", None, "the tracked face", optional=True),
    model=_f("str", None, "the model that gave the values", optional=True),
    confidence=_f("float", "1", "min(1, side / 64 px) x match x detector score x cos yaw x cos pitch", optional=True),
    calibrated=_f("bool", None, "whether the model's valence/arousal are calibrated absolute", optional=True),
    yaw=_f("float", "deg", "head turn from the FaceMesh landmarks' depth (> 0: image-right side away)", optional=True),
    pitch=_f("float", "deg", "head nod from the FaceMesh landmarks' depth (> 0: chin away)", optional=True),
    roll=_f("float", "deg", "head tilt in the image, eye corner to eye corner (> 0: clockwise)", optional=True),
    mouth_open=_f("float", "1", "inner-lip gap over mouth width (FaceMesh): 0 closed", optional=True),
)
FACE_TRACKED = _kind(
    "face_tracked", "perception.face.FaceAnalyzer", True, "a person's face was found or lost in the camera view",
    state=_f("str", None, '"found" or "lost"'),
    face_id=_f("int", None, "the tracked face"),
    box=_f("list", "px", "[x, y, width, height] of the face when found", optional=True),
)
MOVEMENT = _kind(
    "movement", "perception.movement.MotionEnergy; stream.processors.physio.movement (Movement, ACC LSL)", True,
    "a person's movement: motion energy per video frame or Movement sample; ENMO per 0.1 s of an accelerometer",
    energy=_f("float | null", None, "camera: share of the region's pixels changed since the last frame; Movement "
              "stream: as sent; ACC: mean of max(0, |a| - 1 g), g (ENMO, van Hees et al. 2013); None: NaN sample"),
    measure=_f("str", None, "'motion_energy' (Movement stream) or 'enmo' (ACC stream); absent: camera", optional=True),
    source=_f("str", None, "name of the LSL stream it was computed from; absent: camera", optional=True),
)
VOICE_SEGMENT = _kind("voice_segment", "perception.voice.VoiceAnalyzer; stream.processors.affect_streams", True,
    "one inter-pausal unit of speech, at its end, with its arousal (and valence where the model gives it)",
    start=_f("float", "s", "segment start"),
    end=_f("float", "s", "segment end"),
    duration_s=_f("float", "s", "end - start"),
    arousal=_f("float | null", "1", "vocal arousal on [-1, 1]"),
    valence=_f("float | null", "1", "vocal valence on [-1, 1]; None when the model gives none"),
    model=_f("str", None, "the model (or acoustic baseline) that gave the values", optional=True),
    speaker=_f("str | null", None, "who spoke: the best enrolled voice/mouth, else the mic's owner", optional=True),
    confidence=_f("float | null", "1", "probability of that speaker; None when not attributed", optional=True),
    source=_f("str", None, "what decided: voice, face, both, enrolment or microphone", optional=True),
)
TALK_BALANCE = _kind("talk_balance", f"{_DYADIC}.talk_balance.TalkBalance", False,
    "each person's share of the speaking time over the last minutes, at most every 5 s of speech",
    share=_f("object", "1", "{role: share of the window's speech time}, over the people who spoke in it"),
    speech_s=_f("object", "s", "{role: seconds of speech units in the window}"), window_s=_f("float", "s", "window"))

# -- the session ------------------------------------------------------------

BASELINE_START = _kind("baseline_start", "service.routes_sessions (POST /api/sessions/{id}/baseline)", False,
    "the resting baseline phase begins", duration_s=_f("float", "s", "length of the phase"),
    roles=_f("list", None, "whose baseline is taken"))
MARKER = _kind("marker", "service.routes_sessions (POST /api/sessions/{id}/markers); offline.analysis", False,
    "a research assistant's marker, or one of a recording's marker streams", text=_f("str", None, "the marker's text"),
    stream=_f("str", None, "the marker stream it came from; absent: the rig's own marker", optional=True))
PROCESSING_ERROR = _kind(
    "processing_error", "service.session.Session", True,
    "a processor failed on a chunk or features (the traceback is in the service log); role None for features",
    stream=_f("str", None, "the stream (or first feature kind) it failed on"),
    error=_f("str", None, "the exception's type"),
)
_RECORDING = {
    "recording": _f("bool", None, "whether a recording runs"),
    "path": _f("str | null", None, "the file, relative to the recordings folder"),
    "started": _f("float | null", "s", "when it started (Unix time)"),
    "error": _f("str | null", None, "why it stopped or could not start"),
    "behind": _f("bool", None, "the disk is slower than the data"),
    "pending_bytes": _f("int", "B", "bytes waiting for the disk"),
}
_MANAGER = "service.sessions.SessionManager"
RECORDING_STARTED = _kind("recording_started", _MANAGER, False, "recording into a new file began", **_RECORDING)
RECORDING_STOPPED = _kind("recording_stopped", _MANAGER, False,
    "the recording stopped (asked to, or by itself on a disk error: see error)", **_RECORDING)

# -- the sensors (LSL ingest statuses, logged by service.sessions.attach_lsl) --

_LSL = "sensors.lsl.LslIngest"
_STREAM = {
    "stream": _f("str", None, "the stream's name"),
    "modality": _f("str", None, "the stream's modality (ECG, RSP, EDA ...)"),
    "message": _f("str", None, "what happened, in words"),
}
_PROBLEM = _f("str", None, "nan or rate")
STREAM_FOUND = _kind("stream_found", _LSL, True, "a stream is ingested for the first time", **_STREAM)
STREAM_RETURNED = _kind(
    "stream_returned", _LSL, True, "a stream seen before is ingested again, or data flows again", **_STREAM
)
STREAM_LOST = _kind(
    "stream_lost", _LSL, True, "a stream's outlet closed, or no data came for a while", **_STREAM,
    reason=_f("str", None, '"closed", "no data" or "error"'),
)
CLOCK_OFFSET = _kind(
    "clock_offset", _LSL, True, "the clock offset added to a stream's timestamps changed", **_STREAM,
    offset=_f("float", "s", "added to the sender's timestamps"),
    measured_at=_f("float", "s", "when it was measured"),
)
STREAM_UNASSIGNED = _kind(
    "stream_unassigned", _LSL, False, "a stream of a wanted modality whose person cannot be told (role None)", **_STREAM
)
STREAM_INVALID = _kind(
    "stream_invalid", _LSL, True, "a stream not ingested: wrong format, channels or rate, or a duplicate", **_STREAM,
    problem=_f("str", None, "format, channels, rate, duplicate, or claimed (another session took it)"),
    in_use=_f("str", None, "the stream already ingested for a duplicate", optional=True),
)
STREAM_QUALITY = _kind(
    "stream_quality", _LSL, True, "NaNs or an effective sample rate off nominal in a stream", **_STREAM,
    problem=_PROBLEM,
    effective_rate=_f("float", "Hz", "the measured sample rate (rate problems)", optional=True),
)
STREAM_QUALITY_OK = _kind(
    "stream_quality_ok", _LSL, True, "a stream's NaN or rate problem has cleared", **_STREAM, problem=_PROBLEM
)
STREAM_PREVIEW = _kind("stream_preview", "service.preview.StreamPreview", True,
    "the rig's view of a raw stream: channel 0 as min/max per bin since the last preview, and its counters",
    stream=_STREAM["stream"], modality=_STREAM["modality"], t0=_f("float", "s", "start of the first bin"),
    dt=_f("float", "s", "bin width"), lo=_f("list", None, "lowest value per bin, in the stream's unit (None: empty)"),
    hi=_f("list", None, "highest value per bin"), samples=_f("int", "1", "samples received so far"),
    effective_rate=_f("float | null", "Hz", "samples per second over the last 10 s of timestamps"),
    nominal_rate=_f("float", "Hz", "the rate the stream declares"), dropouts=_f("int", "1", "samples missing so far"))

# fmt: on

#: Every event kind, by name.
KINDS: Mapping[str, Kind] = MappingProxyType(_KINDS)


def unit(kind: str, field_name: str) -> str | None:
    """The unit of ``kind``'s field ``field_name``; None for text, ids, or a kind or field not in the codebook."""
    known = KINDS.get(kind)
    found = known.fields.get(field_name) if known is not None else None
    return None if found is None else found.unit


def codebook_json() -> dict[str, Any]:
    """The codebook as JSON: ``{"version": 1, "kinds": {kind: {meaning, role, emitted_by, fields}}}``."""
    return {"version": VERSION, "kinds": {name: kind.to_json() for name, kind in KINDS.items()}}
