"""deploy/compose.yaml: health checks, TLS, a Redis password that the service uses, and a real Redis run its way.

There is no Docker here, so compose's own variable substitution (``${VAR}``,
``${VAR:-default}``, ``${VAR:?error}``, ``$$``) is applied by
:func:`interpolate`, and the Redis service's entrypoint runs with a real
``redis-server`` (its tmpfs folder pointed at the test's own, a free port).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
import yaml
from test_deploy_image import DOCKERFILES, env_of, instructions

from dyadscope.service.config import Config

COMPOSE = Path(__file__).resolve().parent.parent / "deploy" / "compose.yaml"
PASSWORD = "0123456789abcdef0123456789abcdef"
ENV = {"REDIS_PASSWORD": PASSWORD, "DYADSCOPE_TOKEN": "t" * 24, "DYADSCOPE_HOST": "192.168.1.20"}


def interpolate(value, env: dict[str, str]):
    """Compose's substitution of ``env`` into every string of ``value``; ValueError for an unset ``:?``."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        if match[0] == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        if op == ":?" and not env.get(name):
            raise ValueError(f"{name}: {arg}")
        return env.get(name) or (arg if op == ":-" else "")

    return re.sub(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}", one, value)


def services(env: dict[str, str] = ENV) -> dict:
    return interpolate(yaml.safe_load(COMPOSE.read_text()), env)["services"]


def test_both_services_check_their_health_and_start_in_order():
    svc = services()
    assert svc["redis"]["healthcheck"]["test"][:2] == ["CMD", "redis-cli"]
    assert svc["dyadscope"]["healthcheck"]["test"] == ["CMD", "dyadscope", "health"]
    assert svc["dyadscope"]["depends_on"] == {"redis": {"condition": "service_healthy"}}


def test_the_service_serves_https_with_the_certificate_of_tls_init_in_its_volume():
    env = services()["dyadscope"]["environment"]
    (volume,) = services()["dyadscope"]["volumes"]
    data = env_of(instructions(DOCKERFILES["cpu"]))["DYADSCOPE_DATA_DIR"]
    assert volume.split(":")[1] == data  # the volume is the image's data folder, where tls init writes
    assert env["DYADSCOPE_TLS_CERT"] == f"{data}/tls/server.pem"
    assert env["DYADSCOPE_TLS_KEY"] == f"{data}/tls/server-key.pem"
    config = Config.from_env(env)
    assert config.tls and not config.allow_plain_http and config.host == "192.168.1.20"
    assert config.bus == f"redis://:{PASSWORD}@127.0.0.1:6379/0"


def test_compose_refuses_to_start_without_a_redis_password():
    with pytest.raises(ValueError, match="REDIS_PASSWORD"):
        services({k: v for k, v in ENV.items() if k != "REDIS_PASSWORD"})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_redis_run_as_compose_runs_it_wants_the_password_the_service_url_carries(tmp_path):
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; .ci/run must install it")
        pytest.skip("redis-server is not installed")
    svc = services()
    entry, port = svc["redis"]["entrypoint"], _free_port()
    assert entry[:2] == ["sh", "-c"] and "requirepass" in entry[2] and PASSWORD not in entry[2]  # not in argv
    script = entry[2].replace("/tmp/", f"{tmp_path}/")  # compose mounts a tmpfs there
    extra = ["--port", str(port), "--dir", str(tmp_path), "--appendonly", "no", "--save", ""]
    env = {**os.environ, **svc["redis"]["environment"]}
    server = subprocess.Popen(["sh", "-c", script, *entry[3:], *extra], env=env, stdout=subprocess.DEVNULL)
    try:
        url = svc["dyadscope"]["environment"]["DYADSCOPE_BUS"].replace(":6379/", f":{port}/")
        deadline = time.monotonic() + 30
        while True:
            try:
                assert redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "redis-server did not start"
                time.sleep(0.1)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port).ping()
        health = [*svc["redis"]["healthcheck"]["test"][1:-1], "-p", str(port), "ping"]  # its port added
        assert subprocess.run(health, env=env, capture_output=True, text=True).stdout.strip() == "PONG"
        assert (tmp_path / "redis.conf").stat().st_mode & 0o077 == 0
    finally:
        server.terminate()
        server.wait(10)
