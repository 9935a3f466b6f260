"""Perception: face and voice analysis behind one protocol (:mod:`.base`), features out.

Face detection (:mod:`.face_detect`), tracking (:mod:`.face_track`),
assignment to people (:mod:`.people`), one camera's face analysis
(:mod:`.face`), movement (:mod:`.movement`); acoustic arousal
(:mod:`.prosody`), inter-pausal units (:mod:`.speech_units`), one
microphone's voice analysis (:mod:`.voice`), who is speaking
(:mod:`.speakers`, and a session's shared :mod:`.speaker_room`). :mod:`.live` builds them over a
model engine and runs them on what the sensors stamp (a
:class:`~dyadscope.stream.frames.MediaSink`).

Features they emit (``dyadscope.stream.types.Feature``), which enter the
session like any other:

* ``face_affect`` (role, t, {"valence", "arousal", "face_id", "model"}) per analysed frame;
* ``face_tracked`` (role, t, {"state": "found" | "lost", "face_id", "box"?});
* ``movement`` (role, t, {"energy"}) per frame, share of changed pixels in 0..1;
* ``voice_segment`` (role, t = end, {"start", "end", "duration_s", "arousal",
  "valence" (None without a valence model), "model", "speaker", "confidence",
  "source"}) per inter-pausal unit.

Valence and arousal are in [−1, 1].
"""
