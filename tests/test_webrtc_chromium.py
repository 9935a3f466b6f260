"""Headless Chromium opens the capture page with a fake camera (a real face) and a fake microphone (espeak-ng).

The browser sends both over WebRTC to a real HTTP server on loopback; the
service must report a tracked face with valence/arousal, movement and speech
units of plausible duration, and the page must show that it is received.
When the service drops the connection, the page reconnects by itself.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from contextlib import asynccontextmanager

import pytest
import uvicorn
import websockets
from _models_support import default_models, espeak, face_video, speech_track, write_wav
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dyadscope.models.engine import EngineSettings, ModelEngine
from dyadscope.service.app import STATIC_DIR
from dyadscope.service.routes_webrtc import WebRtcHub, create_webrtc_router

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed")


class Server:
    """The signalling route and the pages on a free loopback port, in a background thread."""

    def __init__(self, model_dir):
        self.features = []
        self.hub = hub = WebRtcHub(lambda sid: self._sink if sid == "room1" else None,
                                   lambda: ModelEngine.from_dir(model_dir, EngineSettings(max_batch=4)),
                                   time.monotonic)

        @asynccontextmanager
        async def lifespan(app):
            self.loop = asyncio.get_running_loop()
            yield
            await hub.close()

        app = FastAPI(lifespan=lifespan)
        app.include_router(create_webrtc_router(hub))
        app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    async def _sink(self, batch):
        self.features.extend(batch)

    def hang_up(self):
        """Drop every capture device, as a service restart or network loss would."""
        asyncio.run_coroutine_threadsafe(self.hub.close_session("room1"), self.loop).result(15)

    def close(self):
        self.server.should_exit = True
        self.thread.join(15)


async def _evaluate(port: int, expression: str):
    """Evaluate a JavaScript expression in the page through the DevTools protocol."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as reply:
        pages = [t for t in json.load(reply) if t["type"] == "page" and "capture" in t["url"]]
    async with websockets.connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as ws:
        await ws.send(json.dumps({"id": 1, "method": "Runtime.evaluate",
                                  "params": {"expression": expression, "returnByValue": True}}))
        while True:
            reply = json.loads(await ws.recv())
            if reply.get("id") == 1:
                return reply["result"]["result"].get("value")


def _devtools_port(profile, proc, timeout=30.0):
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while not marker.is_file() or not marker.read_text().strip():
        assert proc.poll() is None, "chromium exited"
        assert time.monotonic() < deadline, "chromium did not open its DevTools port"
        time.sleep(0.1)
    return int(marker.read_text().split()[0])


def test_capture_page_in_chromium_delivers_face_and_voice(tmp_path, tmp_path_factory):
    model_dir = default_models(tmp_path_factory.mktemp("models"))
    signal, spans = speech_track([espeak("I have been feeling anxious all week."),
                                  espeak("Tell me more about that.")], [0.8, 2.0], lead_s=1.0)
    wav = write_wav(tmp_path / "speech.wav", signal)
    y4m = face_video(tmp_path / "face.y4m", 4.0)
    server = Server(model_dir)
    profile = tmp_path / "profile"
    url = f"http://127.0.0.1:{server.port}/capture?session=room1&role=patient&autostart=1"
    proc = subprocess.Popen([
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
        "--remote-debugging-port=0", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}", f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required", url,
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = _devtools_port(profile, proc)
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            units = [f for f in server.features if f.kind == "voice_segment"]
            if len(units) >= 2:
                break
            time.sleep(0.5)
        page_state = asyncio.run(_evaluate(port, "window.captureState"))
        server.hang_up()
        before = len(server.features)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            after = asyncio.run(_evaluate(port, "window.captureState"))
            again = [f for f in server.features[before:] if f.kind == "face_tracked" and f.data["state"] == "found"]
            if after["reconnects"] >= 1 and after["receiving"] and again:
                break
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(15)
        server.close()

    kinds = {}
    for f in server.features:
        kinds.setdefault(f.kind, []).append(f)
    assert kinds.get("face_tracked"), f"no face tracked; page state {page_state}"
    assert kinds["face_tracked"][0].data["state"] == "found" and kinds["face_tracked"][0].role == "patient"
    affect = kinds["face_affect"]
    assert len(affect) >= 10
    assert sum(f.data["valence"] > 0.5 for f in affect) > 0.8 * len(affect)
    assert all(-1 <= f.data["arousal"] <= 1 for f in affect)
    assert kinds["movement"]
    units = kinds["voice_segment"][:2]
    assert len(units) == 2
    for unit, (start, end) in zip(units, spans, strict=True):
        assert unit.role == "patient"
        assert unit.data["duration_s"] == pytest.approx(end - start, abs=0.35)
    assert page_state["receiving"] is True and page_state["connected"] is True
    assert page_state["lastStatus"]["faces"] == ["patient"]
    assert after["reconnects"] >= 1 and after["receiving"] is True, after
    assert again, "no face from the reconnected page"
