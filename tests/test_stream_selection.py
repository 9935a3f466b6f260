"""Which streams a session takes (on the short header), the claim registry, and the rig's preview counters."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from dyadscope.service.cmd_serve import session_specs
from dyadscope.service.errors import CliError
from dyadscope.service.preview import StreamPreview
from dyadscope.service.rigs import ProfileMissing, RigProfiles
from dyadscope.stream.selection import SelectionError, StreamClaims, StreamSelection
from dyadscope.stream.types import Chunk, StreamInfo

POLAR = {"name": "Polar H10 A1", "type": "ECG", "source_id": "polar-a1", "hostname": "room2-pc"}
SHIMMER = {"name": "Shimmer 7", "type": "GSR", "source_id": "shimmer-7", "hostname": "room3-pc"}


@pytest.mark.parametrize(
    ("patterns", "polar", "shimmer"),
    [
        ((), True, True),
        (("host:room2-*",), True, False),
        (("name:Shimmer*",), False, True),
        (("source_id:polar-?1",), True, False),
        (("type:GSR",), False, True),
        (("Polar*",), True, False),  # bare: name or source_id
        (("shimmer-*",), False, True),
        (("room2-pc",), False, False),  # a bare pattern is not a host
    ],
)
def test_patterns_match_the_short_header(patterns, polar, shimmer):
    selection = StreamSelection(patterns)
    assert (selection.takes(POLAR), selection.takes(SHIMMER)) == (polar, shimmer)


def test_an_assigned_stream_is_taken_and_slots_are_checked():
    selection = StreamSelection(("host:room9",), ("Polar H10 A1=patient:ECG",), ("patient:ECG", "therapist:EKG"))
    assert selection.takes(POLAR) and not selection.takes(SHIMMER)
    merged = StreamSelection(("host:room3-*",)).merged(selection)
    assert merged.takes(SHIMMER) and merged.required == selection.required
    for bad in ({"streams": "x"}, {"required": ["nobody:ECG"]}, {"assign": ["x=nurse"]}, {"extra": []}, ["x"]):
        with pytest.raises(SelectionError):
            StreamSelection.from_json(bad)


def test_profiles_round_trip_and_say_what_is_missing(tmp_path):
    profiles = RigProfiles(tmp_path)
    selection = StreamSelection(("host:room2-*",), ("Polar H10 A1=patient:ECG",), ("patient:ECG",))
    profiles.save("room2", selection)
    assert profiles.names() == ["room2"] and profiles.load("room2") == selection
    with pytest.raises(ProfileMissing):
        profiles.load("room3")
    with pytest.raises(SelectionError):
        profiles.load("../etc")
    (tmp_path / "rigs" / "broken.json").write_text("{")
    with pytest.raises(SelectionError, match="cannot be read"):
        profiles.load("broken")


def test_a_claimed_stream_has_one_owner_until_released():
    claims = StreamClaims()
    assert claims.claim("polar-a1", "a") == "a"
    assert claims.claim("polar-a1", "b") == "a"
    claims.release("polar-a1", "b")  # not b's to give back
    assert claims.owner("polar-a1") == "a"
    claims.release_all("a")
    assert claims.claim("polar-a1", "b") == "b"


def test_preview_counts_samples_rate_and_dropouts_on_data_time():
    info = StreamInfo("ecg", "ECG", 1, 100.0)
    preview = StreamPreview(info, every_s=0.5, points_per_s=20.0)
    t = np.arange(0, 300) / 100.0
    t = np.delete(t, np.arange(120, 130))  # 10 samples lost in a gap
    values = np.sin(t)[:, None]
    shown = [preview.add(Chunk(info, t[i : i + 25], values[i : i + 25])) for i in range(0, len(t), 25)]
    last = [s for s in shown if s is not None][-1]
    assert (preview.samples, preview.dropouts) == (290, 10)
    assert last["samples"] <= 290 and last["dropouts"] == 10  # the gap came before the last preview
    # over the chunks' ends: samples after the first chunk, over the time from its end to the last
    assert preview.effective_rate() == pytest.approx((290 - 25) / (t[-1] - t[24]))
    assert len(last["lo"]) == len(last["hi"]) and all(
        lo <= hi for lo, hi in zip(last["lo"], last["hi"]) if lo is not None
    )
    assert last["dt"] == pytest.approx(0.05)


def _args(*sessions, streams=()):
    return argparse.Namespace(session=list(sessions), streams=list(streams))


def test_serve_options_name_each_sessions_streams():
    specs = session_specs(_args("a=room2", "b", streams=["b=host:room3-*, name:Shimmer*"]))
    assert specs == [("a", "room2", ()), ("b", None, ("host:room3-*", "name:Shimmer*"))]
    with pytest.raises(CliError, match="--streams"):
        session_specs(_args("a", streams=["c=x"]))


def test_rigs_cli_saves_lists_and_shows_profiles(tmp_path, monkeypatch, capsys):
    from dyadscope.service.cli import main

    monkeypatch.setenv("DYADSCOPE_DATA_DIR", str(tmp_path))
    assert main(["rigs", "save", "room2", "--streams", "host:room2-*", "--require", "patient:ECG"]) == 0
    assert main(["rigs", "list"]) == 0
    assert main(["rigs", "show", "room2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"saved {tmp_path / 'rigs' / 'room2.json'}" and out[1] == "room2"
    assert json.loads("\n".join(out[2:])) == {"streams": ["host:room2-*"], "assign": [], "required": ["patient:ECG"]}
    assert main(["rigs", "show", "room9"]) == 2
    assert "no rig profile" in capsys.readouterr().err


def test_previews_are_for_the_rig_not_a_therapists_monitor():
    from dyadscope.service.access import Principal, visible_to

    event = {"kind": "stream_preview", "data": {"stream": "ecg"}}
    assert visible_to(Principal("rita", "assistant"), event) == event
    assert visible_to(Principal("ann", "admin"), event) == event
    assert visible_to(Principal("tina", "therapist"), event) is None
