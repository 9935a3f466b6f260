"""Our XDF dialect round-trips: fields built by the schema, written by our writer, read by pyxdf, parsed back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyxdf

import dyadscope.xdf.writer as xw
from dyadscope.stream.types import Chunk, Event, StreamInfo
from dyadscope.xdf import schema
from dyadscope.xdf.reader import load_recording, stream_info
from dyadscope.xdf.recorder import Recorder

ECG = StreamInfo(
    name="chest strap", modality="ECG", channel_count=1, nominal_rate=250.0, source_id="strap-1", role="therapist",
    channel_labels=("lead",), units=("mV",),
)  # fmt: skip
METADATA = {"subject": "S07", "session": "2", "task": "therapy", "run": "1"}


def _as_text(fields: dict[str, object]) -> dict[str, str]:
    return {key: "" if value is None else str(value) for key, value in fields.items()}


def test_desc_fields_written_by_our_writer_parse_back_from_pyxdf(tmp_path: Path) -> None:
    unassigned = StreamInfo(name="spare", modality="EDA", channel_count=1, nominal_rate=4.0, source_id="spare-1")
    metadata = {**METADATA, schema.KIND: "raw"}
    path = tmp_path / "dialect.xdf"
    path.write_bytes(
        xw.MAGIC
        + xw.file_header_chunk(schema.file_header_fields("2026-01-02T03:04:05+00:00", METADATA))
        + xw.stream_header_chunk(1, xw.stream_header_xml(ECG, metadata=metadata))
        + xw.stream_header_chunk(2, xw.stream_header_xml(unassigned, metadata=METADATA))
    )
    streams, file_header = pyxdf.load_xdf(str(path))
    by_id = {int(s["info"]["stream_id"]): s["info"] for s in streams}

    ecg_fields = schema.parse_desc(by_id[1])
    assert ecg_fields == _as_text(schema.desc_fields(ECG, metadata))
    assert ecg_fields[schema.ROLE] == "therapist" and ecg_fields[schema.MODALITY] == "ECG"
    assert schema.desc_role(ecg_fields) == "therapist"
    spare_fields = schema.parse_desc(by_id[2])
    assert spare_fields[schema.ROLE] == "" and schema.desc_role(spare_fields) is None
    # the name says nothing of the role: only our <desc><dyadscope> does
    assert stream_info(by_id[1]).role == "therapist"

    header = schema.parse_file_header(file_header)
    assert header["writer"] == schema.WRITER
    assert {key: header[key] for key in METADATA} == METADATA


def test_a_senders_header_keeps_one_dyadscope_element_ours() -> None:
    copied = xw.stream_header_xml(ECG, metadata={"session": "old"})  # e.g. a replayed recording's header
    again = xw.stream_header_xml(ECG, lsl_xml=copied, metadata={"session": "new"})
    assert again.count(f"<{schema.DESC_ELEMENT}>") == 1
    assert "<session>new</session>" in again and "<session>old</session>" not in again


def test_derived_streams_are_told_apart_from_raw_ones(tmp_path: Path) -> None:
    path = tmp_path / "session.xdf"
    with Recorder(path, METADATA) as rec:
        rec.write(Chunk(ECG, np.arange(250) / 250.0, np.zeros((250, 1))))
        rec.write_events(
            [
                Event(session="s", seq=1, t=1.0, t_emit=1.0, kind="heart_rate", role="therapist", data={"bpm": 61.0}),
                Event(session="s", seq=2, t=1.0, t_emit=1.0, kind="sync", role=None, data={"r": 0.4, "lag_s": -1.0}),
            ]
        )
        rec.marker(0.5, "start")
    recording = load_recording(path)
    by_key = {s.info.key: s for s in recording.streams}

    derived = {key for key, s in by_key.items() if schema.is_derived(s.info)}
    hr_key = schema.derived_source_id("heart_rate", "therapist")
    sync_key = schema.derived_source_id("sync", None)
    assert derived == {hr_key, sync_key}
    assert not schema.is_derived(by_key["strap-1"].info)
    assert [key for key, s in by_key.items() if schema.is_event_log(s.info)] == [schema.EVENTS_STREAM.source_id]
    assert schema.MARKERS_STREAM.source_id in by_key

    hr, sync = by_key[hr_key], by_key[sync_key]
    declared = schema.derived_stream_info("heart_rate", "therapist", schema.derived_fields("heart_rate", {}))
    read = hr.info
    assert (read.name, read.modality, read.channel_format, read.channel_labels) == (
        declared.name, declared.modality, declared.channel_format, declared.channel_labels,
    )  # fmt: skip
    assert hr.dyadscope[schema.KIND] == "heart_rate" and hr.info.role == "therapist"
    assert sync.dyadscope[schema.KIND] == "sync" and sync.info.role is None
    assert sync.info.name.endswith(schema.DYAD) and sync.info.channel_labels == schema.derived_fields("sync", {})
    assert by_key["strap-1"].dyadscope == _as_text(schema.desc_fields(ECG, METADATA))
    assert schema.KIND not in by_key["strap-1"].dyadscope


def test_derived_streams_take_their_channels_from_the_codebook_one_per_modality(tmp_path: Path) -> None:
    def sync(seq: int, modality: str, chance_r: float | None, leader: str | None) -> Event:
        data = {"modality": modality, "r": 0.5, "abs_r": 0.5, "lag_s": 1.0, "leader": leader, "chance_r": chance_r,
                "above_chance": None if chance_r is None else 0.5 > chance_r, "at_edge": False}  # fmt: skip
        return Event("s", seq, 10.0 + seq, 0.0, "sync", None, data)

    path = tmp_path / "sync.xdf"
    with Recorder(path) as rec:  # the chance level is None at first: its channel must exist all the same
        rec.write_events(
            [sync(1, "eda", None, "patient"), sync(2, "heart_rate", 0.3, None), sync(3, "eda", 0.6, "therapist")]
        )
    by_name = {s["info"]["name"][0]: s for s in pyxdf.load_xdf(str(path), dejitter_timestamps=False)[0]}
    eda, hr = by_name["DyadScope sync eda dyad"], by_name["DyadScope sync heart_rate dyad"]  # modalities never mixed
    labels = [c["label"][0] for c in eda["info"]["desc"][0]["channels"][0]["channel"]]
    assert {"lag_s", "leader", "chance_r", "above_chance", "p", "at_edge"} <= set(labels)
    column = {name: eda["time_series"][:, labels.index(name)] for name in ("chance_r", "above_chance", "leader")}
    np.testing.assert_array_equal(column["chance_r"], [np.nan, 0.6])
    np.testing.assert_array_equal(column["above_chance"], [np.nan, 0.0])
    np.testing.assert_array_equal(column["leader"], [1.0, -1.0])  # +1 the patient leads, -1 the therapist
    assert hr["time_series"][0, labels.index("above_chance")] == 1.0


def test_events_are_written_as_strict_json_with_numpy_numbers(tmp_path: Path) -> None:
    path = tmp_path / "rec.xdf"
    with Recorder(path) as rec:
        rec.write_events(
            [
                Event(
                    "s",
                    1,
                    5.0,
                    0.0,
                    "lab_measure",
                    "patient",
                    {"beats": np.int64(12), "ms": np.float32(40.5), "r": np.nan},
                )
            ]
        )
    by_name = {s["info"]["name"][0]: s for s in pyxdf.load_xdf(str(path), dejitter_timestamps=False)[0]}
    (row,) = by_name["DyadScope events"]["time_series"]

    def refuse(token: str) -> None:
        raise AssertionError(f"not strict JSON: {token}")

    assert json.loads(row[0], parse_constant=refuse)["data"] == {"beats": 12, "ms": 40.5, "r": None}
    derived = by_name["DyadScope lab_measure patient"]  # numpy numbers are numbers there too
    assert [c["label"][0] for c in derived["info"]["desc"][0]["channels"][0]["channel"]] == ["beats", "ms", "r"]
    np.testing.assert_array_equal(derived["time_series"], [[12.0, 40.5, np.nan]])
