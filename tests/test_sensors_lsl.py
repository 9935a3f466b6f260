"""LSL outlets and ingest on loopback: real liblsl, real threads, no mocks.

Every test tags its streams with a fresh uuid and ingests only those, so
outlets of other tests (or other people's runs) on the machine do not interfere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pylsl
import pytest
from _lsl_support import Collector, SignalSource, ingest_of, stream_info, wait_for

from dyadscope.sensors.lsl import CHANNEL_LIMITS, RATE_LIMITS, LslIngest, check_stream, list_streams, local_clock
from dyadscope.sensors.lsl_config import PACKAGED_CONFIG
from dyadscope.sensors.lsl_outlets import LslPublisher, lsl_stream_info
from dyadscope.sensors.simulate import SimulatedDyad
from dyadscope.service.cli import main
from dyadscope.stream.processors.registry import default_pipeline
from dyadscope.stream.types import Chunk, StreamInfo


def test_simulated_dyad_arrives_assigned_with_its_values_and_timestamps():
    tag = uuid.uuid4().hex[:8]
    dyad = SimulatedDyad(7, start_time=local_clock(), tag=tag)
    collector = Collector()
    stalled = threading.Event()

    def slow_consumer(chunk: Chunk) -> None:
        if chunk.info.modality == "ECG" and not stalled.is_set():
            stalled.set()
            time.sleep(1.0)  # falls behind: the inlet thread waits, liblsl buffers, nothing is dropped
        collector.on_chunk(chunk)

    ingest = ingest_of(tag, collector, slow_consumer)
    with LslPublisher(dyad) as publisher:
        ingest.start()
        try:
            infos = dyad.stream_infos()
            wait_for(lambda: all(collector.samples(i.source_id) >= 2 * i.nominal_rate for i in infos))
            assert {(i.role, i.modality) for i in ingest.streams()} == {(i.role, i.modality) for i in infos}
        finally:
            ingest.stop()
    reference = SimulatedDyad(7, start_time=dyad.start_time, tag=tag).advance(local_clock())
    for info, expected in zip(infos, reference.chunks):
        chunks = collector.chunks[info.source_id]
        got = chunks[0].info
        assert (got.name, got.role, got.modality, got.channel_labels, got.units) == (
            info.name,
            info.role,
            info.modality,
            info.channel_labels,
            info.units,
        )
        assert got.hostname  # filled in from the network
        stamps = np.concatenate([c.timestamps for c in chunks])
        values = np.concatenate([c.values for c in chunks])
        offset = collector.status("clock_offset", info.source_id)["offset"]
        index = np.rint((stamps - offset - publisher.offset - dyad.start_time) * info.nominal_rate).astype(int)
        assert np.array_equal(np.diff(index), np.ones(len(index) - 1, dtype=int))  # consecutive, none lost
        np.testing.assert_allclose(stamps - offset - publisher.offset, expected.timestamps[index], atol=1e-6)
        np.testing.assert_allclose(values, expected.values[index], rtol=1e-6, atol=1e-6)  # float32 on the wire


def test_a_stream_that_goes_is_reported_lost_and_picked_up_when_it_returns():
    tag = uuid.uuid4().hex[:8]
    info = stream_info(tag, "returning belt", "RSP", nominal_rate=50.0)
    source = SignalSource(info, 50.0, lambda n: np.sin(n / 10.0))
    collector = Collector()
    ingest = ingest_of(tag, collector, lost_after=0.6)
    ingest.start()
    try:
        with LslPublisher(source):
            wait_for(lambda: collector.samples(info.source_id) > 10)
            assert collector.status("stream_found", info.source_id) is not None
            source.paused = True  # outlet stays, data stops
            assert wait_for(lambda: collector.status("stream_lost", info.source_id))["reason"] == "no data"
            assert ingest.streams() == []
            source.paused = False
            wait_for(lambda: collector.status("stream_returned", info.source_id))
            assert [i.source_id for i in ingest.streams()] == [info.source_id]
        lost = wait_for(lambda: [d for k, _, d in collector.statuses if k == "stream_lost" and d["reason"] == "closed"])
        assert "closed" in lost[0]["message"]
        before = collector.samples(info.source_id)
        source = SignalSource(info, 50.0, lambda n: np.cos(n / 10.0))  # a new outlet, same source_id
        with LslPublisher(source):
            wait_for(lambda: sum(k == "stream_returned" for k, i, _ in collector.statuses) == 2)
            wait_for(lambda: collector.samples(info.source_id) > before + 10)
    finally:
        ingest.stop()
    assert sum(k == "stream_found" and i.source_id == info.source_id for k, i, _ in collector.statuses) == 1


def test_bad_streams_are_reported_and_the_good_one_flows_on():
    tag = uuid.uuid4().hex[:8]
    good = stream_info(tag, "good belt", "RSP")
    nans = stream_info(tag, "nan ecg", "ECG")
    slow = stream_info(tag, "slow ecg", "ECG", role="therapist", nominal_rate=200.0)
    wide = stream_info(tag, "wide eda", "EDA", channel_count=8)
    text = stream_info(tag, "text eda", "EDA", channel_format="string")
    one_hertz = stream_info(tag, "one hertz ecg", "ECG", role="therapist", nominal_rate=1.0)
    nobody = stream_info(tag, "nobody's gsr", "GSR", role=None)
    sources = [
        SignalSource(good, 100.0, lambda n: np.sin(n / 20.0)),
        SignalSource(nans, 100.0, lambda n: np.where(n % 7 == 0, np.nan, 0.5)),
        SignalSource(slow, 100.0, lambda n: np.zeros(len(n))),  # half its nominal rate
        SignalSource(wide, 100.0, lambda n: np.ones(len(n))),
        SignalSource(one_hertz, 1.0, lambda n: np.ones(len(n))),
        SignalSource(nobody, 100.0, lambda n: np.ones(len(n))),
    ]
    collector = Collector()
    ingest = LslIngest(
        collector.on_chunk,
        collector.on_status,
        resolve_interval=0.3,
        rate_window=1.0,
        select=lambda info: tag in info.source_id,
    )
    publishers = [LslPublisher(s) for s in sources]
    text_outlet = pylsl.StreamOutlet(lsl_stream_info(text))
    for publisher in publishers:
        publisher.start()
    ingest.start()
    try:
        nan_report = wait_for(lambda: collector.status("stream_quality", nans.source_id))
        rate_report = wait_for(lambda: collector.status("stream_quality", slow.source_id))
        wide_report = wait_for(lambda: collector.status("stream_invalid", wide.source_id))
        text_report = wait_for(lambda: collector.status("stream_invalid", text.source_id))
        one_hertz_report = wait_for(lambda: collector.status("stream_invalid", one_hertz.source_id))
        unassigned = wait_for(lambda: collector.status("stream_unassigned", nobody.source_id))
        flowing = collector.samples(good.source_id)
        wait_for(lambda: collector.samples(good.source_id) > flowing + 50)
    finally:
        ingest.stop()
        for publisher in publishers:
            publisher.stop()
        del text_outlet
    assert nan_report["problem"] == "nan" and "NaN" in nan_report["message"]
    assert rate_report["problem"] == "rate" and "below the nominal 200 Hz" in rate_report["message"]
    assert rate_report["effective_rate"] == pytest.approx(100.0, rel=0.05)
    assert wide_report["problem"] == "channels" and "has 8" in wide_report["message"]
    assert text_report["problem"] == "format" and "string" in text_report["message"]
    assert one_hertz_report["problem"] == "rate" and "declares 1 Hz: too slow" in one_hertz_report["message"]
    assert "whose stream" in unassigned["message"]
    assert collector.status("stream_quality", good.source_id) is None
    assert collector.samples(nans.source_id) > 0  # reported, still delivered
    assert wide.source_id not in collector.chunks and one_hertz.source_id not in collector.chunks


def test_a_second_source_of_one_persons_modality_waits_until_the_first_is_gone():
    tag = uuid.uuid4().hex[:8]
    strap = stream_info(tag, "chest strap", "ECG", nominal_rate=250.0)
    backup = stream_info(tag, "backup strap", "ECG", nominal_rate=250.0)  # the same patient's ECG, another source
    collector, recorded = Collector(), Collector()
    ingest = ingest_of(tag, collector)
    raw = ingest_of(tag, recorded, modalities=None, raw=True)  # what a recording takes
    first = LslPublisher(SignalSource(strap, 250.0, lambda n: np.sin(n / 40.0)))
    second = LslPublisher(SignalSource(backup, 250.0, lambda n: np.cos(n / 40.0)))
    first.start()
    ingest.start()
    raw.start()
    try:
        wait_for(lambda: collector.samples(strap.source_id) > 0)
        second.start()
        held = wait_for(lambda: collector.status("stream_invalid", backup.source_id))
        wait_for(lambda: recorded.samples(backup.source_id) > 0 and recorded.samples(strap.source_id) > 0)
        seen = collector.samples(strap.source_id)
        wait_for(lambda: collector.samples(strap.source_id) > seen + 250)  # a second: several discovery passes
        assert backup.source_id not in collector.chunks
        reports = [k for k, i, _ in collector.statuses if i.source_id == backup.source_id]
        assert reports == ["stream_invalid"]  # held back, and said once
        first.stop()  # the strap in use goes for good
        wait_for(lambda: collector.status("stream_found", backup.source_id))
        wait_for(lambda: collector.samples(backup.source_id) > 0)
        assert [i.source_id for i in ingest.streams()] == [backup.source_id]
    finally:
        ingest.stop()
        raw.stop()
        first.stop()
        second.stop()
    assert held["problem"] == "duplicate" and held["in_use"] == strap.name
    assert strap.name in held["message"] and "patient's ECG" in held["message"]


@pytest.mark.parametrize(
    ("modality", "rate", "verdict"),
    [
        ("ECG", 1.0, "too slow"),  # the review's case: the R-peak filter cannot even be built
        ("ECG", 99.0, "too slow"),
        ("RSP", 0.1, "too slow"),
        ("EDA", 0.05, "too slow"),
        ("ECG", 1e7, "too fast"),  # a header typo that would size buffers in gigabytes
        ("EDA", 20_001.0, "too fast"),
    ],
)
def test_implausible_declared_rates_are_invalid(modality: str, rate: float, verdict: str) -> None:
    problem, message = check_stream(StreamInfo("s", modality, 1, rate, role="patient"))
    low, high = RATE_LIMITS[modality]
    assert problem == "rate"
    assert f"{low:g} to {high:g} Hz" in message and f"declares {rate:g} Hz: {verdict}" in message


@pytest.mark.parametrize("modality", sorted(RATE_LIMITS))
def test_every_rate_in_range_is_one_the_processors_take(modality: str) -> None:
    """At both ends of the range the stream is accepted and its processors build and run on 20 s of signal."""
    channels = CHANNEL_LIMITS[modality][0]
    for rate in RATE_LIMITS[modality]:
        info = StreamInfo("s", modality, channels, rate, role="patient")
        assert check_stream(info) is None
        processors = default_pipeline().processors_for(info)
        assert processors
        t = np.arange(int(20 * rate)) / rate
        signal = 1.0 + 0.5 * np.sin(2 * np.pi * 0.25 * t)
        chunk = Chunk(info, t, np.repeat(signal[:, None], channels, axis=1))
        for processor in processors:
            processor.process(chunk)  # raises if the processor cannot take the rate


def test_streams_verb_lists_a_running_outlet(capsys):
    tag = uuid.uuid4().hex[:8]
    info = stream_info(tag, "Listed therapist EDA", "EDA", role="therapist", nominal_rate=32.0)
    outlet = pylsl.StreamOutlet(lsl_stream_info(info))
    try:
        assert main(["streams", "--wait", "1"]) == 0
    finally:
        del outlet
    line = next(line for line in capsys.readouterr().out.splitlines() if info.source_id in line)
    assert line.split()[:8] == ["Listed", "therapist", "EDA", tag, "EDA", "therapist", "1", "32"]


def test_simulate_verb_publishes_the_dyad_for_its_duration(capsys):
    seed = uuid.uuid4().int % 10**9
    result: list[int] = []
    argv = ["simulate", "--duration", "2.5", "--seed", str(seed)]
    runner = threading.Thread(target=lambda: result.append(main(argv)))
    runner.start()
    try:
        wanted = {i.source_id for i in SimulatedDyad(seed).stream_infos()}
        listed = wait_for(lambda: wanted & {s.source_id for s in list_streams(wait=0.5)} == wanted)
    finally:
        runner.join(10)
    assert listed and result == [0]
    out = capsys.readouterr().out
    assert all(source_id in out for source_id in wanted) and "publishing for 2.5 s" in out


def test_configure_lsl_points_liblsl_at_the_packaged_config_unless_the_user_chose_one(tmp_path):
    assert "ResolveScope = machine" in PACKAGED_CONFIG.read_text()
    show = "import os, dyadscope.sensors.lsl; print(os.environ['LSLAPICFG'])"
    env = {k: v for k, v in os.environ.items() if k != "LSLAPICFG"}
    used = subprocess.run([sys.executable, "-c", show], env=env, capture_output=True, text=True, check=True)
    assert used.stdout.strip() == str(PACKAGED_CONFIG)
    own = tmp_path / "lsl_api.cfg"
    own.write_text("[multicast]\nResolveScope = link\n")
    used = subprocess.run(
        [sys.executable, "-c", show], env={**env, "LSLAPICFG": str(own)}, capture_output=True, text=True, check=True
    )
    assert used.stdout.strip() == str(own)
