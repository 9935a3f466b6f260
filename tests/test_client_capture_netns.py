"""The capture page in real headless Chromium, each case in a network namespace of its own (``unshare -n``, as root).

Over ``https://`` on a LAN address with a certificate from the service's local
CA, the page streams the fake camera and microphone; the service's only UDP
socket is on that address, in the configured range, and is gone once the
person leaves the page. Over plain http on that address the page says it is
not a secure context and what to do. On 127.0.0.1, with or without another
address on the machine, capture connects too; where no media path opens, the
page names the UDP ports to let through. See ``tests/_netns_capture.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _chromium_support import require_chromium
from _models_support import default_models

HELPER = Path(__file__).with_name("_netns_capture.py")


def _in_netns(scenario: str, tmp_path: Path, tmp_path_factory) -> dict:
    require_chromium()
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs root for a network namespace of its own (unshare -n)")
    model_dir = default_models(tmp_path_factory.mktemp("models"))
    done = subprocess.run(
        ["unshare", "-n", sys.executable, str(HELPER), scenario, str(tmp_path), str(model_dir)],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _assert_streamed_on(result: dict, address: str) -> None:
    """Camera and microphone received on ``address`` only, at a port of the range, released after the page left."""
    first, last = result["ports"]
    page, status = result["page"], result["service_status"]
    assert page["connected"] and page["receiving"] and page["problem"] is None, page
    assert len(status) == 1 and status[0]["video_frames"] > 10 and status[0]["audio_seconds"] > 1.0, status
    (candidates,) = result["candidates"]
    assert len(candidates) == 1 and candidates[0][0] == address and first <= candidates[0][1] <= last, candidates
    assert [tuple(s) for s in result["during"]] == [tuple(candidates[0])], "one UDP socket, the announced one"
    assert result["after"] == [], "the UDP port is released once the person leaves the page"


def test_over_https_on_a_lan_address_the_page_streams_camera_and_microphone(tmp_path, tmp_path_factory):
    result = _in_netns("https", tmp_path, tmp_path_factory)
    assert result["base"].startswith("https://10.203.0.1:") and result["secure"] is True
    _assert_streamed_on(result, "10.203.0.1")


def test_over_plain_http_on_a_lan_address_the_page_says_why_it_cannot_capture(tmp_path, tmp_path_factory):
    result = _in_netns("http", tmp_path, tmp_path_factory)
    page = result["page"]
    assert page["secure"] is False and page["state"]["problem"] == "insecure"
    assert page["shown"] == "cannot capture: not a secure context"
    assert "https://10.203.0.1" in page["help"] and "/ca.pem" in page["help"] and "not a secure context" in page["help"]
    assert page["state"]["reconnects"] == 0 and page["state"]["error"] is None, "no reconnect loop, no getTracks error"


@pytest.mark.parametrize("scenario", ["loopback", "laptop"])
def test_on_loopback_capture_connects_with_or_without_another_address(scenario, tmp_path, tmp_path_factory):
    result = _in_netns(scenario, tmp_path, tmp_path_factory)
    _assert_streamed_on(result, "127.0.0.1")


def test_with_no_media_path_the_page_names_the_udp_ports_to_open(tmp_path, tmp_path_factory):
    result = _in_netns("nopath", tmp_path, tmp_path_factory)
    page = result["page"]
    assert page["state"]["problem"] == "nopath" and page["state"]["connected"] is False
    assert "UDP ports 50100-50109 on 127.0.0.1" in page["help"] and "firewall" in page["help"]
    assert result["after"] == [], "the service closed the connection that never connected, and released its port"
