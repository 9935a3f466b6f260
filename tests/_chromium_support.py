"""Headless Chromium (Debian's package) for the page tests, driven over the DevTools protocol."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import websockets

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Flags for a quiet, sandbox-free headless browser on a closed network.
HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--remote-debugging-port=0",
]


def require_chromium() -> None:
    """Skip (fail in CI, which must install it) when Debian's chromium is missing."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run must install it")
        pytest.skip("Debian's chromium is not installed")


class Chromium:
    """One headless Chromium showing ``url``, with a fresh profile under ``profile``."""

    def __init__(self, url: str, profile: Path, extra_flags: list[str] = ()):
        require_chromium()
        self.profile = profile
        self.proc = subprocess.Popen(
            [CHROMIUM, *HEADLESS, f"--user-data-dir={profile}", *extra_flags, url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.port = self._devtools_port()

    def _devtools_port(self, timeout: float = 30.0) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not marker.is_file() or not marker.read_text().strip():
            assert self.proc.poll() is None, "chromium exited"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        return int(marker.read_text().split()[0])

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        return asyncio.run(self._evaluate(expression))

    async def _evaluate(self, expression: str):
        result = await self._send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result["result"].get("value")

    async def _send(self, method: str, params: dict):
        """One DevTools command to the page; its result."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list") as reply:
            pages = [t for t in json.load(reply) if t["type"] == "page"]
        async with websockets.connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as ws:
            await ws.send(json.dumps({"id": 1, "method": method, "params": params}))
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("id") == 1:
                    return reply["result"]

    def screenshot(self, path: Path) -> Path:
        """Save what the page shows now as a PNG (the window's size) at ``path``."""
        result = asyncio.run(self._send("Page.captureScreenshot", {"format": "png"}))
        path.write_bytes(base64.b64decode(result["data"]))
        return path

    def wait_for(self, expression: str, timeout: float = 30.0):
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"{expression!r} stayed falsy for {timeout} s")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)
