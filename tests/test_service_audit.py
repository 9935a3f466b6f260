"""The audit trail: each access to a session is one hash-chained entry, and tampering is found."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx

from dyadscope.service.audit import AuditLog, verify

DYADSCOPE = [sys.executable, "-c", "import sys; from dyadscope.service.cli import main; sys.exit(main())"]


def _audit_cli(*args: str, data_dir=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DYADSCOPE_DATA_DIR": str(data_dir)} if data_dir else None
    return subprocess.run([*DYADSCOPE, "audit", *args], capture_output=True, text=True, env=env, timeout=120)


def test_each_access_is_audited_without_values_ids_or_tokens(make_service, tmp_path):
    service = make_service(data_dir=tmp_path)
    base, headers = service.base, service.headers
    body = {"id": "s1", "lsl": False, "participants": {"patient": "P07"}}
    assert httpx.post(f"{base}/api/sessions", json=body, headers=headers).status_code == 201
    httpx.get(f"{base}/api/sessions", headers=headers)
    httpx.get(f"{base}/api/sessions/s1", headers=headers)
    httpx.post(f"{base}/api/sessions/s1/baseline", json={"duration_s": 60}, headers=headers)
    httpx.post(f"{base}/api/sessions/s1/markers", json={"text": "patient cries"}, headers=headers)
    labels = {"subject": "P07", "session": "1"}
    assert httpx.post(f"{base}/api/sessions/s1/recording", json=labels, headers=headers).status_code == 201
    with service.ws("s1", after=0):
        pass
    httpx.delete(f"{base}/api/sessions/s1/recording", headers=headers)
    httpx.delete(f"{base}/api/sessions/s1", headers=headers)
    assert httpx.get(f"{base}/api/sessions/s1", headers={"Authorization": "Bearer wrong"}).status_code == 401

    text = (tmp_path / "audit.jsonl").read_text()
    entries = [json.loads(line) for line in text.splitlines()]
    assert [(e["action"], e["session"]) for e in entries] == [
        ("session.create", "s1"),
        ("sessions.list", None),
        ("session.view", "s1"),
        ("baseline.start", "s1"),
        ("marker.add", "s1"),
        ("recording.start", "s1"),
        ("events.read", "s1"),
        ("recording.stop", "s1"),
        ("session.stop", "s1"),
    ]
    assert {e["user"] for e in entries} == {"token"} and entries[6]["detail"] == {"after": 0}
    assert "P07" not in text and "cries" not in text and service.token not in text
    assert oct((tmp_path / "audit.jsonl").stat().st_mode & 0o777) == "0o600"

    view = httpx.get(f"{base}/api/audit", params={"session": "s1", "last": 3}, headers=headers)
    assert [e["action"] for e in view.json()] == ["events.read", "recording.stop", "session.stop"]
    assert httpx.get(f"{base}/api/audit").status_code == 401
    verdict = verify(tmp_path / "audit.jsonl")
    assert verdict.ok and verdict.entries == len(entries) + 1  # and the view itself


def test_audit_verify_finds_changed_removed_and_cut_entries(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(6):
        log.append("token", "session.view", f"s{i}")
    assert AuditLog(path).append("token", "session.stop", "s5")["seq"] == 7  # a reopened log continues the chain
    done = _audit_cli("verify", "--file", str(path))
    assert done.returncode == 0 and "7 entries" in done.stdout
    last_hash = done.stdout.split()[-1]
    lines = path.read_text().splitlines(keepends=True)

    path.write_text("".join(lines).replace('"session": "s2"', '"session": "s9"'))
    changed = _audit_cli("verify", "--file", str(path))
    assert changed.returncode == 1 and "line 3 was changed" in changed.stdout

    path.write_text("".join(lines[:2] + lines[3:]))
    removed = _audit_cli("verify", "--file", str(path))
    assert removed.returncode == 1 and "line 3 does not follow" in removed.stdout

    path.write_text("".join(lines[:-1]))
    assert _audit_cli("verify", "--file", str(path)).returncode == 0  # a cut end alone looks whole ...
    cut = _audit_cli("verify", "--file", str(path), "--last-hash", last_hash)
    assert cut.returncode == 1 and "removed from its end" in cut.stdout  # ... unless the last hash was kept


def test_exports_are_audited_as_the_os_user(tmp_path):
    out, simulated_xdf = tmp_path / "out", tmp_path / "sub-P07_ses-1_task-therapy_run-01_physio.xdf"
    env = {**os.environ, "DYADSCOPE_DATA_DIR": str(tmp_path)}
    simulate = [*DYADSCOPE, "simulate", "--out", str(simulated_xdf), "--duration", "10", "--no-progress"]
    assert subprocess.run(simulate, capture_output=True, env=env, timeout=300).returncode == 0
    args = [*DYADSCOPE, "export", str(simulated_xdf), "--to", "csv", "--out", str(out), "--no-progress"]
    assert subprocess.run(args, capture_output=True, env=env, timeout=300).returncode == 0
    (entry,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert entry["action"] == "recording.export" and entry["detail"]["kinds"] == "csv"
    assert simulated_xdf.name not in json.dumps(entry)
    shown = _audit_cli("show", data_dir=tmp_path)
    assert shown.returncode == 0 and "recording.export" in shown.stdout
