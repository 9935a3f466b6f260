"""Whether a stream can be ingested as its modality: channel and rate limits per modality.

Channel rule: ECG, RSP and EDA streams must be numeric with at least one
channel (at most 16, 4 and 4 — more means a mis-typed stream); channel 0 is
the signal. Movement streams have exactly one channel (motion energy), ACC
streams exactly three (x, y, z) in g, mg or m/s² (else problem ``"units"``;
see :mod:`dyadscope.stream.processors.physio.movement`). Rate rule: the
declared (nominal) rate must lie in the modality's range in
:data:`RATE_LIMITS` (see there why). Re-exported by
:mod:`dyadscope.sensors.lsl`, which applies them in its default mode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from dyadscope.stream.processors.physio.movement import acc_scale_g
from dyadscope.stream.types import StreamInfo

#: Per modality, the (fewest, most) channels a stream may have.
CHANNEL_LIMITS: dict[str, tuple[int, int]] = {
    "ECG": (1, 16),
    "RSP": (1, 4),
    "EDA": (1, 4),
    "Movement": (1, 1),
    "ACC": (3, 3),
}

#: Per modality, the (lowest, highest) nominal rate in Hz a stream may declare.
#:
#: Lowest: ECG 100 Hz — R-peaks are timed to one sample, and RSA (tens of ms of
#: heart-period swing) and heart-period synchrony need ~10 ms or better; the
#: slowest ECG wearables in use sit above it (Polar H10 130 Hz, Zephyr
#: BioHarness 250 Hz) and the processors are validated on 100 Hz recordings.
#: RSP 5 Hz — at least 7 samples per breath at the fastest breathing the
#: processors accept (40 /min), and the 0.05-3 Hz band (its top lowered to
#: 0.45 x rate) still holds every breathing frequency. EDA 1 Hz — the
#: 0.05 Hz tonic/phasic split stays well below Nyquist and SCRs (1-3 s rises)
#: span samples; wrist devices stream EDA at 4 Hz (Empatica E4). Below about
#: 1.1 / 0.11 / 0.1 Hz the ECG / RSP / EDA processors' filters cannot be built
#: at all.
#: Highest: 20 kHz for all three — above the fastest research amplifiers that
#: carry these signals on auxiliary inputs (BioSemi ActiveTwo, up to 16 384 Hz);
#: at 20 kHz a stream's pull buffer is 1.3 MB per 8 channels and its
#: processors' buffers a few MB, where a header claiming 10 MHz would ask for GB.
#:
#: Movement and ACC: lowest 10 Hz, the rate of movement synchrony's grid (its
#: lags step by 0.1 s; each 0.1 s ENMO epoch needs a sample). Motion energy
#: comes one value per video frame (25 Hz in rMEA's sessions) and wearables
#: sample acceleration at 12.5-100 Hz (Axivity AX3 from 12.5 Hz, Empatica E4
#: 32 Hz, ActiGraph 30-100 Hz). Highest: Movement 500 Hz — no camera films
#: therapy faster than 240 frames a second, and each sample becomes one
#: feature; ACC 20 kHz as above (ENMO is computed a chunk at a time).
RATE_LIMITS: dict[str, tuple[float, float]] = {
    "ECG": (100.0, 20_000.0),
    "RSP": (5.0, 20_000.0),
    "EDA": (1.0, 20_000.0),
    "Movement": (10.0, 500.0),
    "ACC": (10.0, 20_000.0),
}


def check_stream(
    info: StreamInfo,
    limits: Mapping[str, tuple[int, int]] = CHANNEL_LIMITS,
    rate_limits: Mapping[str, tuple[float, float]] = RATE_LIMITS,
) -> tuple[str, str] | None:
    """Why a stream cannot be ingested as its modality, as (problem, message), or None.

    ``problem`` is ``"format"``, ``"channels"``, ``"rate"`` or ``"units"``.
    """
    if info.channel_format == "string":
        return "format", f"{info.modality} needs numbers, but the stream's channel format is string"
    fewest, most = limits.get(info.modality, (1, 1 << 16))
    if not fewest <= info.channel_count <= most:
        return "channels", (
            f"{info.modality} needs {fewest} to {most} channels (channel 0 is used), "
            f"but the stream has {info.channel_count}"
        )
    rate = info.nominal_rate
    if rate <= 0:
        return "rate", f"{info.modality} needs a regular sample rate, but the stream's rate is irregular"
    lowest, highest = rate_limits.get(info.modality, (0.0, math.inf))
    if not lowest <= rate <= highest:
        return "rate", (
            f"{info.modality} needs a sample rate of {lowest:g} to {highest:g} Hz, but the stream declares "
            f"{rate:g} Hz: {'too slow' if rate < lowest else 'too fast'} for a real {info.modality} sensor "
            "(is its rate set right?)"
        )
    if info.modality == "ACC":
        try:
            acc_scale_g(info)
        except ValueError as exc:
            return "units", str(exc)
    return None
