"""The XDF writer against pyxdf: every channel format, regular and irregular, read back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pyxdf

import dyadscope.xdf.writer as xw
from dyadscope.stream.assign import assign, header_from_xml
from dyadscope.stream.types import CHANNEL_FORMATS, StreamInfo

NUMERIC = [f for f in CHANNEL_FORMATS if f != "string"]


def _write(path: Path, chunks: list[bytes]) -> Path:
    path.write_bytes(xw.MAGIC + xw.file_header_chunk({"session": "s1"}) + b"".join(chunks))
    return path


def _known_values(fmt: str, n: int, channels: int) -> np.ndarray:
    dtype = xw.NUMERIC_DTYPES[fmt]
    if dtype.kind == "i":
        info = np.iinfo(dtype)
        values = np.random.default_rng(2).integers(info.min, info.max, (n, channels), dtype=dtype, endpoint=True)
        values[0], values[1] = info.min, info.max  # the extremes survive too
        return values
    return (np.random.default_rng(3).standard_normal((n, channels)) * 1e3).astype(dtype)


def _load_raw(path: Path):
    return pyxdf.load_xdf(str(path), synchronize_clocks=False, dejitter_timestamps=False)


@pytest.mark.parametrize("fmt", NUMERIC)
@pytest.mark.parametrize("rate", [500.0, 0.0])
def test_numeric_formats_round_trip_exactly(tmp_path: Path, fmt: str, rate: float) -> None:
    info = StreamInfo(name=f"s-{fmt}", modality="ECG", channel_count=3, nominal_rate=rate, channel_format=fmt)
    values = _known_values(fmt, 700, 3)
    stamps = 1000.0 + np.cumsum(np.random.default_rng(1).uniform(0.001, 0.003, 700))
    chunks = [xw.stream_header_chunk(7, xw.stream_header_xml(info))]
    for part in np.array_split(np.arange(700), [1, 300]):  # 1, 299 and 400 samples: both varlen widths
        chunks.append(xw.samples_chunk(7, fmt, stamps[part], values[part]))
    chunks.append(xw.stream_footer_chunk(7, stamps[0], stamps[-1], 700))
    streams, header = _load_raw(_write(tmp_path / "f.xdf", chunks))

    (stream,) = streams
    assert stream["info"]["channel_format"][0] == fmt
    assert stream["time_series"].dtype == xw.NUMERIC_DTYPES[fmt].newbyteorder("=")
    np.testing.assert_array_equal(stream["time_series"], values)
    np.testing.assert_array_equal(stream["time_stamps"], stamps)
    assert float(stream["info"]["nominal_srate"][0]) == rate
    assert stream["footer"]["info"]["sample_count"] == ["700"]
    assert header["info"]["session"] == ["s1"]


def test_strings_round_trip_with_unicode_and_long_values(tmp_path: Path) -> None:
    info = StreamInfo(name="markers", modality="Markers", channel_count=2, nominal_rate=0.0, channel_format="string")
    values = [["start", "Grüße 😀"], ["", "x" * 300], ['{"a": 1}', "<tag>&amp;"]]
    stamps = np.array([5.0, 6.25, 7.125])
    chunks = [
        xw.stream_header_chunk(2, xw.stream_header_xml(info)),
        xw.samples_chunk(2, "string", stamps, values),
    ]
    (stream,), _ = _load_raw(_write(tmp_path / "s.xdf", chunks))
    assert stream["time_series"] == values
    np.testing.assert_array_equal(stream["time_stamps"], stamps)


def test_clock_offsets_are_applied_by_pyxdf(tmp_path: Path) -> None:
    info = StreamInfo(name="eda", modality="EDA", channel_count=1, nominal_rate=32.0, channel_format="double64")
    stamps = 50.0 + np.arange(32 * 20) / 32.0
    chunks = [xw.stream_header_chunk(1, xw.stream_header_xml(info))]
    chunks += [xw.samples_chunk(1, "double64", stamps, stamps[:, None])]
    offsets = [(50.0 + 5 * k, 100.0) for k in range(5)]
    chunks += [xw.clock_offset_chunk(1, t, v) for t, v in offsets]
    chunks += [xw.boundary_chunk(), xw.stream_footer_chunk(1, stamps[0], stamps[-1], len(stamps), offsets)]
    (stream,), _ = pyxdf.load_xdf(str(_write(tmp_path / "c.xdf", chunks)), dejitter_timestamps=False)
    np.testing.assert_allclose(stream["time_stamps"], stamps + 100.0, atol=1e-6)
    assert stream["clock_values"] == [100.0] * 5
    assert len(stream["footer"]["info"]["clock_offsets"][0]["offset"]) == 5


def test_header_keeps_description_and_adds_role(tmp_path: Path) -> None:
    info = StreamInfo(
        name="ECG patient",
        modality="ECG",
        channel_count=2,
        nominal_rate=500.0,
        source_id="polar-1",
        role="patient",
        channel_labels=("lead1", "lead2"),
        units=("mV", "mV"),
    )
    chunks = [xw.stream_header_chunk(3, xw.stream_header_xml(info, metadata={"participant": "P01"}))]
    (stream,), _ = _load_raw(_write(tmp_path / "h.xdf", chunks))
    assert stream["time_stamps"].shape == (0,)
    desc = stream["info"]["desc"][0]
    # labels name the person, so MNE/mnelab keep two people's ECG apart; types are MNE's
    assert [c["label"][0] for c in desc["channels"][0]["channel"]] == ["patient lead1", "patient lead2"]
    assert [c["unit"][0] for c in desc["channels"][0]["channel"]] == ["mV", "mV"]
    assert [c["type"][0] for c in desc["channels"][0]["channel"]] == ["ECG", "ECG"]
    assert desc["dyadscope"][0]["role"] == ["patient"]
    assert desc["dyadscope"][0]["participant"] == ["P01"]
    assert stream["info"]["source_id"] == ["polar-1"]


def test_header_from_lsl_xml_keeps_the_senders_description() -> None:
    lsl_xml = (
        "<?xml version='1.0'?><info><name>A</name><type>EDA</type><channel_count>1</channel_count>"
        "<nominal_srate>32</nominal_srate><channel_format>float32</channel_format>"
        "<desc><manufacturer>Shimmer</manufacturer></desc></info>"
    )
    info = StreamInfo(name="A", modality="EDA", channel_count=1, nominal_rate=32.0, role="therapist")
    text = xw.stream_header_xml(info, lsl_xml=lsl_xml)
    assert "<manufacturer>Shimmer</manufacturer>" in text
    assert "<role>therapist</role>" in text
    # the assigned role also where ingest reads it, so a replay keeps a --assign without repeating it
    assert assign(header_from_xml(text)).role == "therapist"
    assert assign(header_from_xml(text.replace("<role>therapist</role>", "", 1))) is None  # <dyadscope> alone: not
    # the sender gave no channels: one is added, labelled with the person, typed as MNE's GSR
    assert "<channel><label>therapist EDA</label><type>GSR</type></channel>" in text


def test_varlen_widths() -> None:
    assert xw.encode_varlen(255) == b"\x01\xff"
    assert xw.encode_varlen(256) == b"\x04\x00\x01\x00\x00"
    assert xw.encode_varlen(2**32) == b"\x08" + (2**32).to_bytes(8, "little")
    with pytest.raises(ValueError):
        xw.encode_varlen(-1)


def test_rejects_unknown_format_and_bad_shape() -> None:
    with pytest.raises(ValueError, match="unknown channel format"):
        xw.samples_chunk(1, "float16", np.zeros(1), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="values must be"):
        xw.samples_chunk(1, "float32", np.zeros(2), np.zeros((3, 1)))
