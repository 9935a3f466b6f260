"""Which processors a session runs: the default pipeline.

The one place that maps a stream's modality to its processors and lists the
feature processors, so that the live service and offline analysis build the
very same pipeline.

Per assigned stream:

* ECG: heart rate (R-peaks, intervals) and signal quality;
* RSP: breaths and breathing rate, with signal quality on the same monitor;
* EDA: tonic/phasic, SCRs and SCR rate, with signal quality likewise;
* ``FaceAffect`` / ``VoiceAffect`` streams (affect computed elsewhere): the
  same ``face_affect`` / ``voice_segment`` features the media pipelines give;
* ``Movement`` (motion energy) and ``ACC`` (accelerometer, as ENMO) streams:
  the same ``movement`` feature the camera's motion energy gives.

Then, on the features: RSA (peak-to-trough and spectral), the resting
baseline, the dyadic measures (synchrony, concordance, coregulation,
dissonance, talk balance), the session summary and, given each person's norms from past
sessions, deviations from them.

Every processor is configured the same way: one frozen dataclass of
unit-named settings (``HeartRateConfig``, ``RSAConfig``, ``DyadicConfig`` ...)
passed after its inputs; :class:`PipelineConfig` holds one of each, and the
registry builds every processor from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from dyadscope.stream.pipeline import Pipeline
from dyadscope.stream.processors.affect_streams import affect_stream_processors
from dyadscope.stream.processors.base import ChunkProcessor, FeatureProcessor
from dyadscope.stream.processors.dyadic.synchrony import DyadicConfig, dyadic_processors
from dyadscope.stream.processors.dyadic.talk_balance import TalkBalance, TalkBalanceConfig
from dyadscope.stream.processors.physio.baseline import Baseline, BaselineConfig
from dyadscope.stream.processors.physio.ecg import HeartRateConfig, HeartRateProcessor
from dyadscope.stream.processors.physio.eda import EDAConfig, EDAProcessor
from dyadscope.stream.processors.physio.history import DeviationConfig, DeviationProcessor, Norm, SessionSummary
from dyadscope.stream.processors.physio.movement import movement_stream_processors
from dyadscope.stream.processors.physio.quality import QualityConfig, QualityProcessor, QualityTrack
from dyadscope.stream.processors.physio.respiration import RespirationConfig, RespirationProcessor
from dyadscope.stream.processors.physio.rsa import RSAConfig, RSAProcessor
from dyadscope.stream.types import Role, StreamInfo


@dataclass(frozen=True)
class PipelineConfig:
    """Every processor's configuration, one frozen dataclass each; the defaults are the documented ones."""

    heart_rate: HeartRateConfig = HeartRateConfig()
    respiration: RespirationConfig = RespirationConfig()
    eda: EDAConfig = EDAConfig()
    quality: QualityConfig = QualityConfig()
    rsa: RSAConfig = RSAConfig()
    baseline: BaselineConfig = BaselineConfig()
    deviation: DeviationConfig = DeviationConfig()
    dyadic: DyadicConfig = DyadicConfig()
    talk: TalkBalanceConfig = TalkBalanceConfig()


def physiology_processors(info: StreamInfo, config: PipelineConfig = PipelineConfig()) -> Sequence[ChunkProcessor]:
    """The processors of one assigned physiological stream (none for others).

    The stream's measure processor and its :class:`~.physio.quality.QualityProcessor`
    share one quality track, so the signal is judged once.
    """
    if info.role is None or info.channel_format == "string":
        return ()
    made = {
        "ECG": partial(HeartRateProcessor, config=config.heart_rate),
        "RSP": partial(RespirationProcessor, config=config.respiration),
        "EDA": partial(EDAProcessor, config=config.eda),
    }.get(info.modality)
    if made is None:
        return ()
    track = QualityTrack(info, config.quality)
    return (made(info, quality=track), QualityProcessor(info, config.quality, track=track))


def default_pipeline(
    config: PipelineConfig = PipelineConfig(),
    *,
    baseline: Baseline | None = None,
    summary: SessionSummary | None = None,
    norms: Mapping[Role, Mapping[str, Norm]] | None = None,
) -> Pipeline:
    """A fresh pipeline with every default processor, for one session.

    Pass ``baseline`` and ``summary`` to read them after the session, and
    ``norms`` (per role, from :class:`~dyadscope.stream.processors.physio.history.History`) for
    live deviations from each person's past sessions.
    """
    baseline = baseline or Baseline(config.baseline)
    feature_processors: list[FeatureProcessor] = [
        RSAProcessor(config.rsa),
        baseline,
        *dyadic_processors(config.dyadic),
        TalkBalance(config.talk),
    ]
    if summary is not None:
        feature_processors.append(summary)
    if norms:
        feature_processors.append(DeviationProcessor(norms, config.deviation))
    factory = partial(physiology_processors, config=config)
    return Pipeline([factory, affect_stream_processors, movement_stream_processors], feature_processors)
