"""Assigning streams to role and modality, from LSL headers and XDF files."""

from __future__ import annotations

import pytest
import pyxdf

from dyadscope.sensors.lsl_outlets import lsl_stream_info
from dyadscope.sensors.simulate import SimulatedDyad
from dyadscope.stream.assign import (
    AssignmentError,
    Override,
    assign,
    describe,
    header_from_xml,
    normalize_modality,
    parse_override,
    parse_overrides,
)


def _header(name: str, lsl_type: str, desc=None, **fields) -> dict:
    """A header in pyxdf's shape."""
    header = {"name": [name], "type": [lsl_type], "channel_count": ["1"], "nominal_srate": ["32"], "desc": [desc]}
    header.update({k: [v] for k, v in fields.items()})
    return header


@pytest.mark.parametrize(
    ("lsl_type", "modality"),
    [
        ("ECG", "ECG"),
        ("ekg", "ECG"),
        ("Resp", "RSP"),
        ("Respiration", "RSP"),
        ("RSP", "RSP"),
        ("GSR", "EDA"),
        ("eda", "EDA"),
        ("EEG", "EEG"),
        (" ", None),
        (None, None),
    ],
)
def test_modality_is_the_normalised_type(lsl_type, modality):
    assert normalize_modality(lsl_type) == modality


def test_role_comes_from_desc_then_name():
    by_desc = assign(_header("Shimmer 3", "GSR", {"role": ["therapist"]}))
    assert (by_desc.role, by_desc.modality) == ("therapist", "EDA")
    by_name = assign(_header("Patient chest belt", "Resp"))
    assert (by_name.role, by_name.modality) == ("patient", "RSP")
    assert assign(_header("Polar H10", "ECG")) is None  # nobody's
    assert assign(_header("patient-therapist mixer", "ECG")) is None  # both words: undecided
    assert assign(_header("DyadScope patient", "")) is None  # no modality
    desc_wins = assign(_header("therapist ECG", "ECG", {"role": ["patient"]}))
    assert desc_wins.role == "patient"


def test_overrides_parse_and_win():
    assert parse_override("Polar H10=Patient:ekg") == Override("Polar H10", "patient", "ECG")
    assert parse_override("a=b=therapist") == Override("a=b", "therapist", None)
    overrides = parse_overrides(["Polar H10 patient=therapist", "src-7=patient:GSR"])
    polar = assign(_header("Polar H10 patient", "ECG"), overrides)
    assert (polar.role, polar.modality) == ("therapist", "ECG")
    by_source = assign(_header("Box", "Misc", source_id="src-7"), overrides)
    assert (by_source.role, by_source.modality) == ("patient", "EDA")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Polar H10", "form"),
        ("=patient", "form"),
        ("Polar=nurse:ECG", "'nurse' is not one of"),
        ("Polar=patient: ", "modality"),
    ],
)
def test_bad_overrides_say_what_is_wrong(text, says):
    with pytest.raises(AssignmentError, match=says):
        parse_override(text)


def test_lsl_header_xml_round_trips_role_and_channels():
    info = SimulatedDyad(9).stream_infos()[5]
    header = header_from_xml(lsl_stream_info(info).as_xml())
    assert header["desc"][0]["acquisition"][0]["manufacturer"] == ["DyadScope"]
    assigned = assign(header)
    assert assigned.role == "therapist"
    assert (assigned.name, assigned.modality, assigned.source_id) == (info.name, "EDA", info.source_id)
    assert (assigned.nominal_rate, assigned.channel_count, assigned.channel_format) == (32.0, 1, "float32")
    assert assigned.channel_labels == ("EDA",) and assigned.units == ("µS",)


def test_xdf_headers_from_pyxdf_work_too(shared_data):
    streams, _ = pyxdf.load_xdf(str(shared_data / "xdf" / "minimal.xdf"))
    eeg = next(s for s in streams if s["info"]["type"] == ["EEG"])
    described = describe(eeg["info"])
    assert (described.name, described.modality, described.channel_count) == ("SendDataC", "EEG", 3)
    assert (described.nominal_rate, described.channel_format, described.role) == (10.0, "int16", None)
    assert assign(eeg["info"]) is None
    assigned = assign(eeg["info"], parse_overrides(["SendDataC=patient"]))
    assert (assigned.role, assigned.modality) == ("patient", "EEG")
