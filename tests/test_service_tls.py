"""HTTPS with the local CA of ``dyadscope tls init``: real TLS on loopback, checked against that CA."""

from __future__ import annotations

import json
import logging
import ssl
import stat
import subprocess
import sys

import httpx
import pytest
from cryptography import x509
from websockets.sync.client import connect

from dyadscope.service.config import Config
from dyadscope.service.errors import CliError
from dyadscope.service.runner import Service, page_url
from dyadscope.stream.types import Feature

DYADSCOPE = [sys.executable, "-c", "import sys; from dyadscope.service.cli import main; sys.exit(main())"]


def _tls_init(folder, *args: str) -> str:
    done = subprocess.run([*DYADSCOPE, "tls", "init", "--dir", str(folder), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    out = _tls_init(data / "tls", "--name", "rig.test", "--ip", "127.0.0.1")
    assert "--tls-cert" in out and "/ca.pem" in out
    return data


def _trusting(data) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(data / "tls" / "ca.pem"))


def test_tls_init_makes_a_ca_once_and_a_server_certificate_for_the_rig(tls_files, tmp_path):
    folder = tls_files / "tls"
    assert sorted(p.name for p in folder.iterdir()) == ["ca-key.pem", "ca.pem", "server-key.pem", "server.pem"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    cert = x509.load_pem_x509_certificate((folder / "server.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["rig.test"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 398

    again = tmp_path / "again"
    _tls_init(again, "--ip", "127.0.0.1")
    ca, server = (again / "ca.pem").read_bytes(), (again / "server.pem").read_bytes()
    _tls_init(again, "--ip", "127.0.0.2")  # a new address: a new server certificate, the same CA
    assert (again / "ca.pem").read_bytes() == ca and (again / "server.pem").read_bytes() != server

    bad = subprocess.run([*DYADSCOPE, "tls", "init", "--dir", str(tmp_path / "x"), "--ip", "not-an-ip"], text=True,
                         capture_output=True)  # fmt: skip
    assert bad.returncode == 2 and "not-an-ip" in bad.stderr and "Traceback" not in bad.stderr


def test_the_service_serves_https_and_wss_with_hsts(tls_files, make_service, caplog):
    tls = tls_files / "tls"
    service = make_service(data_dir=tls_files, tls_cert=tls / "server.pem", tls_key=tls / "server-key.pem")
    base, context = f"https://127.0.0.1:{service.port}", _trusting(tls_files)
    with httpx.Client(verify=context) as client:
        health = client.get(f"{base}/api/health")
        assert health.status_code == 200 and health.headers["strict-transport-security"].startswith("max-age=")
        assert client.get(f"{base}/ca.pem").content == (tls / "ca.pem").read_bytes()
        created = client.post(f"{base}/api/sessions", json={"id": "s1", "lsl": False}, headers=service.headers)
        assert created.status_code == 201
    session = service.service.manager.get("s1")
    service.call(session.log.emit(Feature("heart_rate", "patient", 1.0, {"bpm": 61.0})))
    with connect(
        f"wss://127.0.0.1:{service.port}/ws/sessions/s1", ssl=context, additional_headers=service.headers
    ) as ws:
        assert json.loads(ws.recv(timeout=10))["data"] == {"bpm": 61.0}
    assert service.service.url("s1").startswith(f"https://127.0.0.1:{service.port}/?session=s1")

    caplog.set_level(logging.INFO)
    for _ in range(5):  # plain HTTP, or a client that does not trust the CA, gets no answer and no traceback
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{service.port}/api/health", timeout=10)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/api/health", timeout=10)
    assert httpx.get(f"{base}/api/health", verify=context).status_code == 200
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


def test_a_bad_certificate_is_a_clear_error(tls_files, tmp_path):
    tls = tls_files / "tls"
    config = Config(port=0, tls_cert=tls / "server.pem", tls_key=tls / "ca-key.pem")  # a key of another cert
    with pytest.raises(CliError, match="key does not belong"):
        Service(config)
    with pytest.raises(CliError, match="No such file"):
        Service(Config(port=0, tls_cert=tmp_path / "missing.pem", tls_key=tmp_path / "missing-key.pem"))


def test_beyond_loopback_plain_http_and_short_tokens_are_refused(tls_files):
    tls = tls_files / "tls"
    with pytest.raises(ValueError, match="unencrypted"):
        Config(host="0.0.0.0").with_token()
    with pytest.raises(ValueError, match="characters"):
        Config(host="0.0.0.0", token="x", allow_plain_http=True).with_token()
    with pytest.raises(ValueError, match="loopback"):
        Config(host="0.0.0.0", token="none", allow_plain_http=True).with_token()
    with pytest.raises(ValueError, match="together"):
        Config(tls_cert=tls / "server.pem").with_token()
    served = Config(host="0.0.0.0", tls_cert=tls / "server.pem", tls_key=tls / "server-key.pem").with_token()
    assert len(served.token) >= 20 and page_url(served, 8765, "s1").startswith("https://0.0.0.0:8765/")
    assert Config(host="0.0.0.0", allow_plain_http=True).with_token().token
