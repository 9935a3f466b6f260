"""The capture page in headless Chromium, inside this process's own network namespace (run under ``unshare -n``).

``python tests/_netns_capture.py SCENARIO WORKDIR MODEL_DIR`` prints one JSON
line with what the page and the service saw:

* ``https``: a LAN address on one end of a veth pair, the service on it with a
  server certificate issued by its local CA (the API client here verifies it
  against the CA; headless Chromium, with no certificate store to add the CA
  to, trusts that certificate's key), an assistant's API token; the page streams the fake camera and microphone,
  then the browser leaves.
* ``http``: the same address over plain http: the page is not a secure context.
* ``loopback``: no address but 127.0.0.1, no accounts (development mode);
  Chromium uses loopback for WebRTC only with ``--allow-loopback-in-peer-connection``.
* ``laptop``: the service on 127.0.0.1 while the machine also has a LAN
  address (the browser's only candidates), no accounts.
* ``nopath``: loopback alone without that flag: the browser has no candidate,
  so no media path opens; the page must say which UDP ports to let through.

The service runs in this process, so its UDP sockets are this process's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _chromium_support import Chromium
from _udp_support import udp_sockets
from conftest import RunningService
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from dyadscope.service.tls import issue_server_certificate, tls_dir
from dyadscope.service.users import UserStore

LAN = "10.203.0.1"
PORTS = (50100, 50109)
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
RECEIVING = (
    "window.captureState && window.captureState.receiving && window.captureState.lastStatus.audio_seconds > 1"
    " && window.captureState"
)
PAGE = "JSON.stringify({url: location.href, state: window.captureState, text: document.body.innerText})"
PROBLEM = (
    "window.captureState && window.captureState.problem && {state: window.captureState, secure: window.isSecureContext,"
    " help: document.getElementById('help').textContent, shown: document.getElementById('state').textContent}"
)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


def _spki(pem: Path) -> str:
    """The base64 SHA-256 of a certificate's key, as Chromium's --ignore-certificate-errors-spki-list takes it."""
    key = x509.load_pem_x509_certificate(pem.read_bytes()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _setup(scenario: str, work: Path, model_dir: Path) -> tuple[dict, list[str], str, httpx.Client]:
    """The network, the service's configuration, the browser's extra flags, the host and an API client."""
    _ip("link", "set", "lo", "up")
    host = LAN if scenario in ("https", "http") else "127.0.0.1"
    if scenario not in ("loopback", "nopath"):
        _ip("link", "add", "dyad0", "type", "veth", "peer", "name", "dyad1")  # a LAN of two ends, all ours
        _ip("addr", "add", f"{LAN}/24", "dev", "dyad0")
        for end in ("dyad0", "dyad1"):
            _ip("link", "set", end, "up")
    data = work / "data"
    config = {"host": host, "data_dir": data, "model_dir": model_dir, "media_udp_ports": f"{PORTS[0]}-{PORTS[1]}"}
    flags, verify = list(FAKE_MEDIA), True
    if scenario == "https":
        issued = issue_server_certificate(tls_dir(data), [], [LAN])
        config.update(tls_cert=issued.server_cert, tls_key=issued.server_key)
        flags.append(f"--ignore-certificate-errors-spki-list={_spki(issued.server_cert)}")
        verify = str(issued.ca_cert)
    elif scenario == "http":
        config["allow_plain_http"] = True
    elif scenario == "loopback":
        flags.append("--allow-loopback-in-peer-connection")
    return config, flags, host, httpx.Client(verify=verify, timeout=30)


def _candidates(sdp: str) -> list[tuple[str, int]]:
    return sorted({(m[1], int(m[2])) for m in re.finditer(r"a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host", sdp)})


def main(scenario: str, work: Path, model_dir: Path) -> dict:
    config, flags, host, client = _setup(scenario, work, model_dir)
    token = None
    if host == LAN:  # beyond loopback the service needs accounts: an assistant runs the rig
        store = UserStore(config["data_dir"] / "users.json")
        store.add("rita", "assistant", "correct horse battery")
        token = store.issue_token("rita", days=1)[0]
    service = RunningService(**config)
    token = token or service.token
    base = f"{'https' if scenario == 'https' else 'http'}://{host}:{service.port}"
    headers = {"Authorization": f"Bearer {token}"}
    with client:  # closed now: an idle TLS connection would hold the service's shutdown for its 30 s TLS close
        created = client.post(f"{base}/api/sessions", json={"id": "room1", "lsl": False}, headers=headers)
    assert created.status_code == 201, created.text
    before = udp_sockets()
    browser = Chromium(f"{base}/capture?session=room1&role=patient&autostart=1#token={token}", work / "profile", flags)
    result: dict = {"base": base, "ports": PORTS}
    try:
        if scenario in ("http", "nopath"):
            result["page"] = browser.wait_for(PROBLEM, 90)
        else:
            result["page"] = browser.wait_for(RECEIVING, 120)
            result["secure"] = browser.evaluate("window.isSecureContext")
            result["during"] = sorted(udp_sockets() - before)
            peers = service.service.app.state.webrtc.ingest("room1").peers
            result["candidates"] = [_candidates(p.pc.localDescription.sdp) for p in peers]
            result["service_status"] = [p.status() for p in peers]
            browser.evaluate("location.href = 'about:blank'")  # the person leaves the page
            result["after"], result["release_s"] = _released(before)
    except AssertionError:
        print("page:", browser.evaluate(PAGE), file=sys.stderr)
        raise
    finally:
        browser.close()
    if "after" not in result:  # the browser went without hanging up: the service closes what never connected
        result["after"], result["release_s"] = _released(before)
    service.close()
    return result


def _released(before: set) -> tuple[list, float]:
    """The sockets still held beyond ``before`` once they are gone or 60 s passed, and the seconds it took."""
    left = time.monotonic()
    while udp_sockets() != before and time.monotonic() - left < 60:
        time.sleep(0.1)
    return sorted(udp_sockets() - before), round(time.monotonic() - left, 1)  # the time: for the README only


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))))
