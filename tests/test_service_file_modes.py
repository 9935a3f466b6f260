"""What the service and the command line write is for their user only: folders 0700, files 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx

DYADSCOPE = [sys.executable, "-c", "import sys; from dyadscope.service.cli import main; sys.exit(main())"]


def _open_to_others(root: Path) -> list[str]:
    """Everything below ``root`` (and ``root``) that a group or other user may read, write or enter."""
    paths = [root, *root.rglob("*")]
    open_paths = [p for p in paths if p.stat().st_mode & 0o077]
    return [f"{p.relative_to(root.parent)} {stat.filemode(p.stat().st_mode)}" for p in open_paths]


def test_recordings_history_and_exports_are_private(make_service, tmp_path):
    os.umask(umask := os.umask(0o022))  # what a default login shell has, whatever pytest's is
    try:
        data = tmp_path / "data"
        service = make_service(data_dir=data)
        base, headers = service.base, service.headers
        body = {"id": "s1", "lsl": False, "participants": {"patient": "P07"}}
        assert httpx.post(f"{base}/api/sessions", json=body, headers=headers).status_code == 201
        labels = {"subject": "P07", "session": "1"}
        started = httpx.post(f"{base}/api/sessions/s1/recording", json=labels, headers=headers)
        assert started.status_code == 201, started.text
        assert httpx.post(f"{base}/api/sessions/s1/markers", json={"text": "door"}, headers=headers).status_code == 202
        stopped = httpx.delete(f"{base}/api/sessions/s1", headers=headers)  # closes the file, writes the history
        assert stopped.status_code == 204
        recording = data / "recordings" / started.json()["path"]
        assert recording.is_file() and (data / "history.sqlite3").is_file()
        assert _open_to_others(data) == []

        out = tmp_path / "export"
        done = subprocess.run(
            [*DYADSCOPE, "export", str(recording), "--to", "bids", "--to", "csv", "--out", str(out), "--no-progress"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert any(out.rglob("*.tsv*")) and _open_to_others(out) == []
    finally:
        os.umask(umask)
