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

from ..history import DeviationProcessor, Norm, SessionSummary
from ..pipeline import Pipeline
from ..types import Role, StreamInfo
from .affect_streams import affect_stream_processors
from .base import ChunkProcessor, FeatureProcessor
from .baseline import Baseline
from .dyadic import DyadicConfig, dyadic_processors
from .ecg import HeartRateProcessor
from .eda import EDAProcessor
from .quality import QualityProcessor
from .respiration import RespirationProcessor
from .rsa import RSAProcessor


def physiology_processors(info: StreamInfo) -> Sequence[ChunkProcessor]:
    """The processors of one assigned physiological stream (none for others)."""
    if info.role is None or info.channel_format == "string":
        return ()
    if info.modality == "ECG":
        return (HeartRateProcessor(info), QualityProcessor(info))
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
    ``norms`` (per role, from :class:`~dyadscope.stream.history.History`) for
    live deviations from each person's past sessions.
    """
    baseline = baseline or Baseline()
    feature_processors: list[FeatureProcessor] = [
        RSAProcessor(baseline=baseline),
        baseline,
        *dyadic_processors(dyadic or DyadicConfig()),
    ]
    if summary is not None:
        feature_processors.append(summary)
    if norms:
        feature_processors.append(DeviationProcessor(norms))
    return Pipeline([physiology_processors, affect_stream_processors], feature_processors)
