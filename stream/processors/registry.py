"""Which processors a session runs: the default pipeline.

The one place that maps a stream's modality to its processors and lists the
feature processors, so that the live service and offline analysis build the
very same pipeline.

Per assigned stream:

* ECG: heart rate (R-peaks, intervals) and signal quality;
* RSP: breaths and breathing rate, with signal quality on the same monitor;
* EDA: tonic/phasic, SCRs and SCR rate, with signal quality likewise;
* ``FaceAffect`` / ``VoiceAffect`` streams (affect computed elsewhere): the
  same ``face_affect`` / ``voice_segment`` features the media pipelines give.

Then, on the features: RSA (peak-to-trough and spectral), the resting
baseline, the dyadic measures (synchrony, concordance, coregulation,
dissonance), the session summary and, given each person's norms from past
sessions, deviations from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dyadscope.stream.processors.physio.history import DeviationProcessor, Norm, SessionSummary
from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.types import Role, StreamInfo
from dyadscope.stream.processors.affect_streams import affect_stream_processors
from dyadscope.stream.processors.base import ChunkProcessor, FeatureProcessor
from dyadscope.stream.processors.physio.baseline import Baseline
from dyadscope.stream.processors.dyadic.synchrony import DyadicConfig, dyadic_processors
from dyadscope.stream.processors.physio.ecg import HeartRateProcessor
from dyadscope.stream.processors.physio.eda import EDAProcessor
from dyadscope.stream.processors.physio.quality import QualityProcessor
from dyadscope.stream.processors.physio.respiration import RespirationProcessor
from dyadscope.stream.processors.physio.rsa import RSAProcessor


def physiology_processors(info: StreamInfo) -> Sequence[ChunkProcessor]:
    """The processors of one assigned physiological stream (none for others)."""
    if info.role is None or info.channel_format == "string":
        return ()
    if info.modality == "ECG":
        heart = HeartRateProcessor(info)
        return (heart, QualityProcessor(info, track=heart.quality))
    if info.modality == "RSP":
        breathing = RespirationProcessor(info)
        return (breathing, QualityProcessor(info, track=breathing.quality))
    if info.modality == "EDA":
        eda = EDAProcessor(info)
        return (eda, QualityProcessor(info, track=eda.quality))
    return ()


def default_pipeline(
    *,
    baseline: Baseline | None = None,
    summary: SessionSummary | None = None,
    norms: Mapping[Role, Mapping[str, Norm]] | None = None,
    dyadic: DyadicConfig | None = None,
) -> Pipeline:
    """A fresh pipeline with every default processor, for one session.

    Pass ``baseline`` and ``summary`` to read them after the session, and
    ``norms`` (per role, from :class:`~dyadscope.stream.processors.physio.history.History`) for
    live deviations from each person's past sessions.
    """
    baseline = baseline or Baseline()
    feature_processors: list[FeatureProcessor] = [
        RSAProcessor(),
        baseline,
        *dyadic_processors(dyadic or DyadicConfig()),
    ]
    if summary is not None:
        feature_processors.append(summary)
    if norms:
        feature_processors.append(DeviationProcessor(norms))
    return Pipeline([physiology_processors, affect_stream_processors], feature_processors)
