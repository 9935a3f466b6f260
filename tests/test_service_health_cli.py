"""``dyadscope health`` (the images' and compose's health check) against a real service, plain and over HTTPS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

DYADSCOPE = [sys.executable, "-c", "import sys; from dyadscope.service.cli import main; sys.exit(main())"]


def _health(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DYADSCOPE_")}
    return subprocess.run([*DYADSCOPE, "health"], capture_output=True, text=True, env={**clean, **env}, timeout=60)


def test_health_is_ok_while_the_service_answers_and_says_why_not_after(make_service):
    service = make_service()
    done = _health(DYADSCOPE_HOST="0.0.0.0", DYADSCOPE_PORT=str(service.port))  # asked on loopback
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ok: http://127.0.0.1:{service.port}/api/health"
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    refused = _health(DYADSCOPE_PORT=str(free))
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert f"127.0.0.1:{free}" in refused.stderr and "Traceback" not in refused.stderr


def test_health_over_https_with_a_certificate_for_the_lan_name(make_service, tmp_path):
    init = [*DYADSCOPE, "tls", "init", "--dir", str(tmp_path / "tls"), "--name", "rig.test"]
    made = subprocess.run(init, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    cert, key = tmp_path / "tls" / "server.pem", tmp_path / "tls" / "server-key.pem"
    service = make_service(data_dir=tmp_path, tls_cert=cert, tls_key=key)
    done = _health(DYADSCOPE_PORT=str(service.port), DYADSCOPE_TLS_CERT=str(cert), DYADSCOPE_TLS_KEY=str(key))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: https://127.0.0.1:")
    plain = _health(DYADSCOPE_PORT=str(service.port))  # HTTP to an HTTPS port: not healthy, one line
    assert plain.returncode == 1 and len(plain.stderr.strip().splitlines()) == 1
