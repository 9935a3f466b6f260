"""ONNX models: sessions, micro-batchers, manifests and the model front-ends.

Runtime: :mod:`.runtime` (one ONNX Runtime session per model, CUDA then CPU),
:mod:`.batcher` (micro-batching across streams and sessions), :mod:`.manifest`
and :mod:`.contracts` (what a model expects and how its outputs are read),
:mod:`.library` (the model directory), :mod:`.engine` (shared models and
batchers), :mod:`.build`, :mod:`.wheels` and :mod:`.convert_fer` (the default
models, built from registry wheels).

Model front-ends: face affect (:mod:`.face_affect`, :mod:`.circumplex`),
voice activity (:mod:`.vad`), model voice affect (:mod:`.voice_affect`).

The analysis built on them (face detection and tracking, movement, speech
units, the face and voice analyzers) sit above, in :mod:`dyadscope.perception`;
this room imports nothing from there.
"""
