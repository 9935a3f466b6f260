"""Signal quality per stream: real clean recordings pass, real noise and planted faults are named."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb
from _physio_support import T0, chunks, interleave, of, recording, run, run_pipeline, stream

from dyadscope.stream.processors.physio.eda import EDAProcessor
from dyadscope.stream.processors.physio.quality import QualityConfig, QualityMonitor, QualityProcessor
from dyadscope.stream.processors.physio.rsa import RSAProcessor
from dyadscope.stream.types import Chunk, StreamInfo

CLEAN = [
    ("bio_eventrelated_100hz", "ECG"),
    ("bio_eventrelated_100hz", "EDA"),
    ("bio_eventrelated_100hz", "RSP"),
    ("bio_resting_8min_100hz", "ECG"),
    ("bio_resting_8min_100hz", "EDA"),
    ("bio_resting_5min_100hz", "RSP"),
]


def verdicts(x, modality="ECG", rate=100.0, sizes=10, t0=T0, **options):
    info = stream(modality, rate)
    monitor = QualityMonitor(info, QualityConfig(**options))
    return [a for c in chunks(info, np.asarray(x, dtype=float), sizes, t0) for a in monitor.update(c)]


@pytest.mark.parametrize("name,modality", CLEAN)
def test_clean_recordings_are_good(shared_data, name, modality):
    x = recording(shared_data / "physio" / f"{name}.csv")[modality]
    found = verdicts(x, modality)
    assert len(found) == pytest.approx(len(x) / 100.0, abs=2)
    assert all(a.status == "good" for a in found)


def test_string_streams_are_refused():
    markers = StreamInfo("markers", "Markers", 1, 0.0, channel_format="string")
    with pytest.raises(ValueError, match="strings"):
        QualityProcessor(markers)


def test_clean_mit_bih_ecg_is_good(shared_data):
    record = wfdb.rdrecord(str(shared_data / "ecg-annotated" / "100"), sampto=360 * 300)
    assert all(a.status == "good" for a in verdicts(record.p_signal[:, 0], rate=360.0, sizes=36))


def test_noisy_v102s_is_flagged_and_nothing_crashes(shared_data):
    record = wfdb.rdrecord(str(shared_data / "ecg-annotated" / "v102s"))
    ecg, rsp = record.p_signal[:, 0], record.p_signal[:, 3]  # lead II and RESP, with NaNs
    found = verdicts(ecg, rate=250.0, sizes=25)
    assert np.mean(["noisy" in a.problems for a in found]) > 0.8
    assert any("nan" in a.problems for a in found)
    # the whole physiology pipeline runs over it: quality events poor, RSA marked poor or absent
    features = run_pipeline(
        [RSAProcessor()],
        interleave(chunks(stream("ECG", 250.0), ecg, 25), chunks(stream("RSP", 250.0), rsp, 25)),
    )
    ecg_quality = [f for f in of(features, "quality") if f.data["modality"] == "ECG"]
    assert ecg_quality and np.mean([f.data["status"] == "poor" for f in ecg_quality]) > 0.8
    assert "noisy" in ecg_quality[-1].data["problems"]
    rsa = of(features, "rsa")
    assert rsa and np.mean([f.data["quality"] == "poor" for f in rsa]) > 0.8


@pytest.fixture
def ecg(shared_data):
    return recording(shared_data / "physio" / "bio_eventrelated_100hz.csv")["ECG"].to_numpy().copy()


def problems_between(found, start, stop):
    return {p for a in found if T0 + start <= a.t <= T0 + stop for p in a.problems}


def test_flat_line(ecg):
    ecg[5000:7000] = ecg[5000]
    found = verdicts(ecg)
    assert problems_between(found, 60, 68) == {"flat"}
    assert not problems_between(found, 0, 49) and not problems_between(found, 79, 150)


def test_clipping(ecg):
    top = np.percentile(ecg, 90)
    ecg[5000:7000] = np.minimum(ecg[5000:7000], top)
    found = verdicts(ecg)
    assert "clipping" in problems_between(found, 55, 68)
    assert not problems_between(found, 0, 49)


def test_missing_values(ecg):
    ecg[4000:4005] = np.nan
    found = verdicts(ecg)
    assert problems_between(found, 41, 47) == {"nan"}
    assert not problems_between(found, 50, 150)


def test_out_of_range_eda(shared_data):
    x = recording(shared_data / "physio" / "bio_eventrelated_100hz.csv")["EDA"].to_numpy().copy()
    x[3000:4000] = 0.0  # electrode off
    found = verdicts(x, "EDA")
    assert "out_of_range" in problems_between(found, 31, 40)
    assert not problems_between(found, 0, 29)


def test_gap_in_timestamps(ecg):
    info = stream("ECG")
    monitor = QualityMonitor(info)
    found = [a for c in chunks(info, ecg[:3000], 10) for a in monitor.update(c)]
    found += [a for c in chunks(info, ecg[3000:], 10, t0=T0 + 32.0) for a in monitor.update(c)]
    assert "gap" in problems_between(found, 33, 39)
    assert not problems_between(found, 0, 29) and not problems_between(found, 45, 150)


def test_sample_rate_drift(ecg):
    assert not any("rate" in a.problems for a in verdicts(ecg))
    # the device claims 100 Hz but sends 80 samples a second
    monitor = QualityMonitor(stream("ECG", 100.0))
    found = [a for c in chunks(stream("ECG", 80.0), ecg, 8) for a in monitor.update(c)]
    assert found and all("rate" in a.problems for a in found if a.t > T0 + 5)


def test_quality_events_on_change_and_every_ten_seconds(ecg):
    ecg[6000:8000] = ecg[6000]
    info = stream("ECG")
    events = run(QualityProcessor(info), chunks(info, ecg, 10))
    assert all(e.kind == "quality" and e.data["stream"] == info.name and e.data["modality"] == "ECG" for e in events)
    statuses = [(round(e.t - T0), e.data["status"]) for e in events]
    changes = [s for s, prev in zip(statuses[1:], statuses) if s[1] != prev[1]]
    assert changes == [(62, "poor"), (81, "good")]  # flat for 2 s, then good again at once
    gaps = np.diff([e.t for e in events])
    assert np.all(gaps <= 10.0 + 1e-6) and len(events) < 20


def test_a_shared_monitor_gives_the_same_verdicts(shared_data):
    """The EDA processor and the stream's quality processor can share one monitor (half the cost)."""
    x = recording(shared_data / "physio" / "bio_eventrelated_100hz.csv")["EDA"].to_numpy().copy()
    x[3000:4000] = 0.0
    info = stream("EDA")
    apart = run(QualityProcessor(info), chunks(info, x, 10)) + run(EDAProcessor(info), chunks(info, x, 10))
    eda = EDAProcessor(info)
    shared = QualityProcessor(info, track=eda.quality)
    together = [f for c in chunks(info, x, 10) for p in (eda, shared) for f in p.process(c)]
    assert any(f.kind == "quality" and f.data["status"] == "poor" for f in together)
    assert sorted(together, key=repr) == sorted(apart, key=repr)


def test_clean_signals_are_never_poor_even_in_the_first_second():
    """Every window has one sample at its minimum and one at its maximum: that is no clipping."""
    from dyadscope.sensors.simulate import SimulatedDyad

    dyad, monitors, verdicts = SimulatedDyad(1), {}, []
    for step in range(1, 601):
        for chunk in dyad.read_until(step / 10):
            if len(chunk):  # float32, as LSL delivers the simulated streams
                chunk = Chunk(chunk.info, chunk.timestamps, chunk.values.astype(np.float32).astype(np.float64))
                processor = monitors.setdefault(chunk.info.key, QualityProcessor(chunk.info))
                verdicts += processor.process(chunk)
    assert len({f.data["stream"] for f in verdicts}) == 6
    assert [f.data for f in verdicts if f.data["status"] != "good"] == []
