"""The rig page's streams in a real browser: live traces and counters, required streams, assigning from the page,
recording progress and the baseline's countdown — with screenshots of the key states."""

from __future__ import annotations

import json
import uuid

import numpy as np
from _chromium_support import Chromium
from _lsl_support import SignalSource, stream_info
from PIL import Image

from dyadscope.sensors.lsl_outlets import LslPublisher
from dyadscope.stream.selection import StreamSelection

WINDOW = (1200, 1400)
RED = np.array([160, 64, 64])  # --bad in monitor.css


def _shot(browser: Chromium, path) -> np.ndarray:
    """A screenshot as an RGB array, checked to be the page's viewport (in device pixels) and not blank."""
    viewport = browser.evaluate("[innerWidth, innerHeight].map(v => Math.round(v * devicePixelRatio))")
    image = Image.open(browser.screenshot(path)).convert("RGB")
    assert list(image.size) == viewport and viewport[0] == WINDOW[0]
    pixels = np.asarray(image)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20, "the page looks blank"
    return pixels


def _red_pixels(pixels: np.ndarray) -> int:
    return int((np.abs(pixels.astype(int) - RED).sum(axis=2) < 40).sum())


def _js(text: str) -> str:
    return json.dumps(text)


def _check_recording_moves(browser: Chromium, first: str, progress) -> None:
    """The recording line's elapsed time, then its size, move on from ``first``; its stream count is the file's."""
    state = "document.getElementById('recording-state').textContent"
    later = browser.wait_for(
        f"{state} !== {_js(first)} && {state}.split(' · ')[1] !== {_js(first.split(' · ')[1])} && {state}",
        timeout=20,
    )
    size = lambda text: float(text.split(" · ")[2].split()[0]) * (1e3 if "MB" in text else 1)  # noqa: E731
    assert later.startswith("recording sub-P09") and size(later) >= size(first)
    final = browser.wait_for(f"{state}.split(' · ')[2] !== {_js(later.split(' · ')[2])} && {state}", timeout=30)
    assert size(final) > size(first)
    shown = int(final.split(" · ")[3].split()[0])
    assert 1 <= shown <= progress()["streams_recorded"]


def _trace_pixels(row: str) -> str:
    """JavaScript: how many pixels of the row's trace canvas are painted."""
    return (
        f"(() => {{ const c = {row}.querySelector('canvas'); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
        " for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; })()"
    )


def test_rig_page_assigns_a_stream_shows_its_trace_and_the_recording_moving(make_service, tmp_path):
    tag = uuid.uuid4().hex[:8]
    info = stream_info(tag, "HeartyPatch", "ECG", role=None, nominal_rate=128.0)
    publisher = LslPublisher(SignalSource(info, 128.0, lambda n: np.sin(2 * np.pi * 1.2 * n / 128.0) ** 15))
    publisher.start()
    service = make_service(data_dir=tmp_path / "data")
    manager = service.service.manager
    selection = StreamSelection((f"*-{tag}",), required=("patient:ECG", "therapist:ECG"))
    service.call(manager.create("room", selection=selection))
    flags = [f"--window-size={WINDOW[0]},{WINDOW[1]}"]
    browser = Chromium(service.service.url("room", "rig"), tmp_path / "profile", extra_flags=flags)
    try:
        # 1. required streams red while missing; the stream nobody can tell is listed
        item = f"document.querySelector('#unassigned li[data-stream={_js(_js(info.name))[1:-1]}]')"
        browser.wait_for(f"{item} !== null", timeout=40)
        missing = browser.evaluate("[...document.querySelectorAll('#streams tr.missing')].map(r => r.dataset.required)")
        assert missing == ["patient:ECG", "therapist:ECG"]
        color = browser.evaluate("getComputedStyle(document.querySelector('#streams tr.missing td')).color")
        assert color == "rgb(160, 64, 64)"
        assert _red_pixels(_shot(browser, tmp_path / "missing.png")) > 50
        # 2. assigned from the page: applied at once, the trace and counters live
        browser.evaluate(f"{item}.querySelector('[name=role]').value = 'patient'")
        browser.evaluate(f"{item}.querySelector('[name=modality]').value = 'ECG'")
        browser.evaluate(f"{item}.querySelector('button').click()")
        row = f"document.querySelector('#streams tr[data-stream={_js(_js(info.name))[1:-1]}]')"
        browser.wait_for(f"{row} && Number({row}.cells[4].textContent) > 256", timeout=40)
        cells = browser.evaluate(f"[...{row}.cells].slice(0, 7).map(c => c.textContent)")
        assert cells[:3] == [info.name, "patient", "ECG"] and cells[3].endswith("/ 128 Hz")
        verdict, _, reason = cells[6].partition(": ")  # the quality processor's verdict on this synthetic signal
        assert verdict == "good" and not reason or verdict == "poor" and reason
        assert cells[5] == "0"  # dropouts
        assert manager.get("room").assignments == [f"{info.name}=patient:ECG"]
        assert browser.wait_for(_trace_pixels(row), timeout=20) > 100  # the trace is drawn
        missing = browser.evaluate("[...document.querySelectorAll('#streams tr.missing')].map(r => r.dataset.required)")
        assert missing == ["therapist:ECG"]
        assert browser.evaluate("document.getElementById('unassigned-section').hidden")
        # 3. recording: elapsed time, size and streams move; baseline: a countdown per role
        form = "document.getElementById('recording')"
        browser.evaluate(f"{form}.elements.subject.value = 'P09'; {form}.requestSubmit()")
        state = "document.getElementById('recording-state').textContent"
        first = browser.wait_for(f"{state}.startsWith('recording sub-P09') && {state}", timeout=20)
        browser.evaluate(
            "(() => { const f = document.getElementById('baseline'); f.elements.duration_s.value = '60';"
            " f.requestSubmit(); })()"
        )
        roles = "[...document.querySelectorAll('#baseline-state .baseline-role')].map(e => e.textContent)"
        countdown = browser.wait_for(f"{roles}.length === 2 && {roles}", timeout=20)
        assert [text.split(":")[0] for text in countdown] == ["patient", "therapist"]
        assert all(text.endswith(" s left") for text in countdown)
        _check_recording_moves(browser, first, manager.get("room").recording.progress)
        _shot(browser, tmp_path / "recording.png")
        assert "error" not in browser.evaluate("document.getElementById('log').innerText")
    finally:
        browser.close()
        publisher.stop()


def test_two_dyads_on_one_network_each_session_its_own_streams_on_the_rig_page(make_service, two_dyads, tmp_path):
    (tag_a, _), (tag_b, pub_b) = two_dyads.items()
    service = make_service(data_dir=tmp_path / "data")
    service.call(service.service.manager.create("a", selection=StreamSelection((f"name:* {tag_a}",))))
    flags = [f"--window-size={WINDOW[0]},{WINDOW[1]}"]
    browser = Chromium(service.service.url("a", "rig"), tmp_path / "profile", extra_flags=flags)
    names = "[...document.querySelectorAll('#streams tr[data-stream]')].map(r => r.dataset.stream)"
    try:
        shown = browser.wait_for(f"{names}.length === 6 && {names}", timeout=40)
        assert all(name.endswith(tag_a) for name in shown)
        # the second room's session, given its streams on the page
        form = "document.getElementById('new-session')"
        browser.evaluate(
            f"{form}.elements.id.value = 'b'; {form}.elements.streams.value = 'source_id:*-{tag_b}';"
            f"{form}.elements.required.value = 'patient:ECG, therapist:RSP'; {form}.requestSubmit()"
        )
        browser.wait_for("document.getElementById('session').value === 'b'")
        shown = browser.wait_for(f"{names}.length === 6 && {names}", timeout=40)
        assert sorted(shown) == sorted(info.name for info in pub_b.streams)
        assert browser.evaluate("document.querySelectorAll('#streams tr.missing').length") == 0
        session_b = service.service.manager.get("b")
        assert session_b.selection.required == ("patient:ECG", "therapist:RSP")
        assert {i.source_id for i in session_b.streams.values()} == {i.source_id for i in pub_b.streams}
        traces = "[...document.querySelectorAll('#streams tr[data-stream]')].map(r => Number(r.cells[4].textContent))"
        assert browser.wait_for(f"{traces}.every(n => n > 0) && {traces}", timeout=20)
        # the baseline: each role counts down, then says its result
        browser.evaluate(
            "(() => { const f = document.getElementById('baseline'); f.elements.duration_s.value = '10';"
            " f.requestSubmit(); })()"
        )
        roles = "[...document.querySelectorAll('#baseline-state .baseline-role')].map(e => e.textContent)"
        done = browser.wait_for(f"{roles}.length === 2 && {roles}.every(t => t.includes('done')) && {roles}", 60)
        for role, text in zip(("patient", "therapist"), done):
            assert text.startswith(f"{role}: done, ") and " bpm" in text  # the shared token sees the values
        # every stream stays visible, with the session holding it
        browser.evaluate(
            "document.getElementById('network').open = true; document.getElementById('network-refresh').click()"
        )
        holders = (
            "Object.fromEntries([...document.querySelectorAll('#network-streams tr')]"
            ".map(r => [r.dataset.sourceId, r.cells[4].textContent]))"
        )
        held = browser.wait_for(f"Object.keys({holders}).length >= 12 && {holders}", timeout=20)
        for tag, session_id in ((tag_a, "a"), (tag_b, "b")):
            assert sorted(v for k, v in held.items() if k.endswith(tag)) == [session_id] * 6
        _shot(browser, tmp_path / "two-dyads.png")
        assert "error" not in browser.evaluate("document.getElementById('log').innerText")
    finally:
        browser.close()
