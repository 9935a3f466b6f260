"""Movement from sensors: Movement (motion energy) and ACC (accelerometer) streams as the movement feature.

ENMO against a plain numpy computation, the streamed features against the
camera path's, and on real LSL on loopback: the real rMEA motion energy of an
intake session as two Movement outlets gives the movement synchrony computed
directly from the file; accelerometers with planted bursts give movement in
the bursts; streams that cannot be movement are refused with a reason.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Sequence

import numpy as np
import pytest
from _lsl_support import Collector, SignalSource, ingest_of, stream_info, wait_for
from _movement_support import MEA_RATE_HZ, motion_energy, movement_sync

from dyadscope.sensors.lsl import local_clock
from dyadscope.sensors.lsl_outlets import LslPublisher
from dyadscope.stream.processors.physio.movement import (
    STANDARD_GRAVITY,
    AccelerometerENMO,
    MotionEnergyStream,
    movement_stream_processors,
)
from dyadscope.stream.processors.registry import default_pipeline
from dyadscope.stream.types import Chunk, Feature, StreamInfo


def enmo_epochs(t: np.ndarray, xyz_g: np.ndarray) -> dict[int, float]:
    """Per 0.1 s epoch, the mean of max(0, |a| - 1 g) over its finite samples (van Hees et al. 2013)."""
    enmo = np.maximum(np.linalg.norm(xyz_g, axis=1) - 1.0, 0.0)
    epochs = np.floor(t * 10.0 + 1e-9).astype(int)
    return {
        int(e): float(np.nanmean(enmo[epochs == e])) for e in np.unique(epochs) if np.isfinite(enmo[epochs == e]).any()
    }


def shaken(rate_hz: float, seconds: float, bursts_s: Sequence[tuple[float, float]], seed: int = 3):
    """A still accelerometer (gravity on z, 0.01 g noise) shaken vertically at 3 Hz, ±0.5 g, in ``bursts_s``."""
    t = np.arange(int(rate_hz * seconds)) / rate_hz
    inside = np.zeros(t.size, dtype=bool)
    for start, end in bursts_s:
        inside |= (t >= start) & (t < end)
    xyz = np.random.default_rng(seed).normal(0.0, 0.01, (t.size, 3)) + [0.0, 0.0, 1.0]
    xyz[:, 2] += np.where(inside, 0.5 * np.sin(2 * np.pi * 3.0 * t), 0.0)
    return t, xyz.astype(np.float32).astype(float)  # as the wire carries it


def test_enmo_is_the_epoch_mean_of_the_rectified_norm_minus_one_g_whatever_the_chunking():
    t, xyz = shaken(50.0, 20.0, [(4.0, 6.0), (12.0, 15.0)])
    t = t + 1000.0
    expected = enmo_epochs(t, xyz)
    for unit, scale in (("g", 1.0), ("mg", 1000.0), ("m/s^2", STANDARD_GRAVITY)):
        info = StreamInfo("wrist", "ACC", 3, 50.0, role="patient", units=(unit,) * 3)
        processor = AccelerometerENMO(info)
        rng = np.random.default_rng(1)
        features, fed = [], 0
        while fed < t.size:
            n = int(rng.integers(1, 40))
            features += processor.process(Chunk(info, t[fed : fed + n], xyz[fed : fed + n] * scale))
            fed += n
        got = {round(f.t * 10.0 - 0.5): f.data["energy"] for f in features}
        assert sorted(got) == sorted(expected)[:-1]  # the last epoch waits for a sample after it
        np.testing.assert_allclose([got[e] for e in got], [expected[e] for e in got], rtol=1e-9, atol=1e-12)
        assert {f.data["measure"] for f in features} == {"enmo"} and {f.role for f in features} == {"patient"}
    assert max(expected.values()) > 0.3 and np.median(list(expected.values())) < 0.02


def test_motion_energy_samples_become_the_cameras_movement_features_and_nan_is_missing():
    info = StreamInfo("energy", "Movement", 1, 25.0, role="therapist")
    t = 10.0 + np.arange(5) / 25.0
    features = MotionEnergyStream(info).process(Chunk(info, t, np.array([[3.0], [0.0], [math.nan], [7.5], [1.0]])))
    assert [f.t for f in features] == t.tolist() and {f.role for f in features} == {"therapist"}
    assert [f.data["energy"] for f in features] == [3.0, 0.0, None, 7.5, 1.0]
    assert {f.data["source"] for f in features} == {"energy"}


def test_streams_that_cannot_be_movement_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="Movement needs 1 numeric channel, but the stream has 2"):
        movement_stream_processors(StreamInfo("e", "Movement", 2, 25.0, role="patient"))
    with pytest.raises(ValueError, match="ACC needs 3 numeric channels, but the stream has 1"):
        movement_stream_processors(StreamInfo("a", "ACC", 1, 50.0, role="patient"))
    with pytest.raises(ValueError, match="g, mg or m/s\\^2, but the stream's unit is 'counts'"):
        movement_stream_processors(StreamInfo("a", "ACC", 3, 50.0, role="patient", units=("counts",) * 3))
    with pytest.raises(ValueError, match="one unit"):
        movement_stream_processors(StreamInfo("a", "ACC", 3, 50.0, role="patient", units=("g", "g", "mg")))
    assert movement_stream_processors(StreamInfo("a", "ACC", 3, 50.0)) == []  # nobody's: no features


def test_a_movement_stream_gives_the_synchrony_the_cameras_motion_energy_gives(shared_data):
    """The file's motion energy as Movement chunks through the default pipeline, against plain features."""
    patient, therapist = motion_energy(shared_data)
    n = int(90 * MEA_RATE_HZ)
    t = 500.0 + np.arange(n) / MEA_RATE_HZ
    pipeline, features = default_pipeline(), []
    infos = [StreamInfo(f"{role} energy", "Movement", 1, MEA_RATE_HZ, role=role) for role in ("patient", "therapist")]
    for start in range(0, n, 10):  # 0.4 s chunks, as a sender pushes them
        for info, values in zip(infos, (patient, therapist)):
            features += pipeline.process(Chunk(info, t[start : start + 10], values[start : start + 10, None]))
    streamed = [f for f in features if f.kind == "sync" and f.data["modality"] == "movement"]
    reference = movement_sync({"patient": (t, patient[:n]), "therapist": (t, therapist[:n])})
    assert len(streamed) == len(reference) >= 20
    assert [f.t for f in streamed] == [f.t for f in reference]
    assert [f.data["r"] for f in streamed] == pytest.approx([f.data["r"] for f in reference], abs=1e-12)


class PacedRecording:
    """Recorded samples of several streams, published ``speed`` times faster than real time once released.

    Nothing is pushed until :attr:`released` is set (an inlet only gets what
    is pushed after it connects). Timestamps are the recording's own, ``n /
    rate`` from the release, so the ingest and the processors see its rate
    and times; only the pushing is faster, in lockstep for all streams, so the
    test does not wait out minutes of data.
    """

    def __init__(self, samples: dict[StreamInfo, np.ndarray], speed: float):
        self.start_time = self._begin = local_clock()
        self.begin: float | None = None  # source time of the first sample, once released
        self.released = threading.Event()
        self._samples = samples
        self._speed = speed
        self._sent = dict.fromkeys(samples, 0)

    def stream_infos(self) -> list[StreamInfo]:
        return list(self._samples)

    def read_until(self, until: float) -> Sequence[Chunk]:
        if not self.released.is_set():
            self._begin = until
            return []
        self.begin = self._begin
        chunks = []
        for info, values in self._samples.items():
            end = min(len(values), int((until - self._begin) * self._speed * info.nominal_rate))
            n = np.arange(self._sent[info], max(self._sent[info], end))
            self._sent[info] = max(self._sent[info], end)
            chunks.append(Chunk(info, self._begin + n / info.nominal_rate, values[n]))
        return chunks


Received = dict[str, tuple[np.ndarray, np.ndarray]]


def ingest_through_pipeline(
    tag: str, samples: dict[StreamInfo, np.ndarray], speed: float
) -> tuple[list[Feature], Received, Collector]:
    """Publish ``samples`` on loopback, ingest them into a live pipeline, until each stream's last sample is in.

    Returns the pipeline's features, per role the received samples'
    (timestamps, index into ``samples``) -- the first few may be lost while
    the inlet connects -- and what the ingest said.
    """
    collector, pipeline, lock, features = Collector(), default_pipeline(), threading.Lock(), []

    def on_chunk(chunk: Chunk) -> None:  # as a live session does: each chunk through the pipeline on arrival
        collector.on_chunk(chunk)
        with lock:
            features.extend(pipeline.process(chunk))

    def received() -> Received:
        with lock:
            stamps = {
                i: np.concatenate([c.timestamps for c in collector.chunks.get(i.source_id, [])] or [[]])
                for i in samples
            }
        return {i.role: (t, np.rint((t - start) * i.nominal_rate).astype(int)) for i, t in stamps.items()}

    recording = PacedRecording(samples, speed)
    ingest = ingest_of(tag, collector, on_chunk)
    ingest.start()
    try:
        with LslPublisher(recording) as publisher:
            wait_for(lambda: all(collector.status("clock_offset", i.source_id) for i in samples), what="inlets open")
            recording.released.set()
            start = wait_for(lambda: recording.begin) + publisher.offset
            longest = max(len(v) / i.nominal_rate for i, v in samples.items())
            wait_for(
                lambda: all(
                    r[1].size and r[1][-1] == len(samples[i]) - 1 for i, r in zip(samples, received().values())
                ),
                timeout=longest / speed + 20.0,
                what="every stream's last sample ingested",
            )
    finally:
        ingest.stop()
    return features, received(), collector


def test_movement_outlets_of_real_motion_energy_give_the_synchrony_computed_offline(shared_data):
    """The rMEA session normal_200_01 as two Movement outlets (25 Hz): live sync equals the file's own."""
    tag = uuid.uuid4().hex[:8]
    energy = dict(zip(("patient", "therapist"), motion_energy(shared_data)))
    n = int(80 * MEA_RATE_HZ)  # 80 s: 30 s window and 5 s lags, then a sync every 2 s
    samples = {
        stream_info(tag, f"{role} motion energy", "Movement", role=role, nominal_rate=MEA_RATE_HZ): values[:n, None]
        for role, values in energy.items()
    }
    features, received, _ = ingest_through_pipeline(tag, samples, speed=4.0)
    series = {}
    for role, (stamps, index) in received.items():
        assert np.array_equal(index, np.arange(index[0], n)) and index[0] < 2 * MEA_RATE_HZ  # none lost after the first
        movement = [f for f in features if f.kind == "movement" and f.role == role]
        assert [f.t for f in movement] == stamps.tolist() and {f.data["measure"] for f in movement} == {"motion_energy"}
        assert [f.data["energy"] for f in movement] == energy[role][index].tolist()  # the file's values, unchanged
        series[role] = (stamps, energy[role][index])
    live = [f for f in features if f.kind == "sync" and f.data["modality"] == "movement"]
    offline = movement_sync(series)
    assert len(live) == len(offline) >= 14
    np.testing.assert_allclose([f.t for f in live], [f.t for f in offline], atol=1e-9)
    for field in ("r", "lag_s"):
        np.testing.assert_allclose([f.data[field] for f in live], [f.data[field] for f in offline], atol=1e-9)
    assert np.ptp([f.data["r"] for f in live]) > 0.1  # real, varying synchrony, not a constant


def test_accelerometer_outlets_give_movement_in_their_planted_bursts():
    """ACC at 50 Hz, still but for two bursts of shaking; the therapist's in m/s² and NaN for 1 s."""
    tag = uuid.uuid4().hex[:8]
    bursts = [(4.0, 6.0), (12.0, 15.0)]
    t, xyz = shaken(50.0, 20.0, bursts)
    gone = (t >= 8.0) & (t < 9.0)
    in_ms2 = np.where(gone[:, None], np.nan, xyz * STANDARD_GRAVITY).astype(np.float32).astype(float)
    patient, therapist = (
        stream_info(tag, f"{role} wrist", "ACC", role=role, nominal_rate=50.0, channel_count=3, units=(unit,) * 3)
        for role, unit in (("patient", "g"), ("therapist", "m/s^2"))
    )
    features, received, collector = ingest_through_pipeline(tag, {patient: xyz, therapist: in_ms2}, speed=4.0)
    nan_report = collector.status("stream_quality", therapist.source_id)
    assert nan_report["problem"] == "nan" and "NaN" in nan_report["message"]
    for info, xyz_g in ((patient, xyz), (therapist, in_ms2 / STANDARD_GRAVITY)):
        stamps, index = received[info.role]
        movement = [f for f in features if f.kind == "movement" and f.role == info.role]
        got = {round(f.t * 10.0 - 0.5): f.data["energy"] for f in movement}
        expected = enmo_epochs(stamps, xyz_g[index])
        every = np.unique(np.floor(stamps * 10.0 + 1e-9).astype(int))
        assert sorted(got) == every[:-1].tolist()  # every epoch but the last, which waits for a later sample
        for epoch, energy in got.items():
            if epoch in expected:
                assert energy == pytest.approx(expected[epoch], rel=1e-9, abs=1e-12)
            else:
                assert energy is None  # the therapist's NaN second: missing, not zero
        energy = np.array([math.nan if f.data["energy"] is None else f.data["energy"] for f in movement])
        when = np.array([f.t for f in movement]) - (stamps[0] - index[0] / 50.0)
        inside = np.any([(when >= a + 0.1) & (when < b - 0.1) for a, b in bursts], axis=0)
        outside = ~np.any([(when >= a - 0.1) & (when < b + 0.1) for a, b in bursts], axis=0)
        assert np.nanmean(energy[inside]) > 0.1 and np.nanmax(energy[outside]) < 0.05
    assert 9 <= sum(f.data["energy"] is None for f in features if f.kind == "movement") <= 10


def test_movement_streams_that_cannot_be_movement_are_reported_and_not_ingested():
    tag = uuid.uuid4().hex[:8]
    wide = stream_info(tag, "two-person energy", "Movement", nominal_rate=25.0, channel_count=2)
    flat = stream_info(tag, "one-axis acc", "ACC", nominal_rate=50.0)
    odd = stream_info(tag, "odd-unit acc", "Accelerometer", nominal_rate=50.0, channel_count=3, units=("counts",) * 3)
    slow = stream_info(tag, "slow energy", "MotionEnergy", nominal_rate=2.0)
    collector = Collector()
    ingest = ingest_of(tag, collector)
    sources = [SignalSource(info, info.nominal_rate, lambda n: np.ones(len(n))) for info in (wide, flat, odd, slow)]
    publishers = [LslPublisher(source) for source in sources]
    for publisher in publishers:
        publisher.start()
    ingest.start()
    try:
        reports = [
            wait_for(lambda i=info: collector.status("stream_invalid", i.source_id)) for info in (wide, flat, odd, slow)
        ]
    finally:
        ingest.stop()
        for publisher in publishers:
            publisher.stop()
    assert [r["problem"] for r in reports] == ["channels", "channels", "units", "rate"]
    assert "Movement needs 1 to 1 channels" in reports[0]["message"] and "has 2" in reports[0]["message"]
    assert "ACC needs 3 to 3 channels" in reports[1]["message"]
    assert "g, mg or m/s^2" in reports[2]["message"] and "'counts'" in reports[2]["message"]
    assert "declares 2 Hz: too slow" in reports[3]["message"]
    assert not collector.chunks
