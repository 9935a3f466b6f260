"""A real, throw-away redis-server that a test can configure, kill and start again on the same port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

#: The ACL user DyadScope's README documents: our keys only, only the commands the bus sends.
BUS_ACL = "~dyadscope:* resetchannels -@all +ping +select +get +set +del +xadd +xread +xrange +evalsha +script|load"


def redis_binary() -> str:
    """The path of ``redis-server``; fails under CI and skips elsewhere if it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; .ci/run must install it")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """``redis-server`` on a free loopback port, with ``config`` lines (``"user ..."``, ``"tls-..."``).

    With ``tls`` the port speaks TLS only. Nothing is saved to disk, so a
    restarted server starts empty, as a crashed cache-only Redis would.
    """

    def __init__(self, workdir: Path, config: tuple[str, ...] = (), *, tls: bool = False):
        self.port = free_port()
        self.tls = tls
        self.conf = workdir / "redis.conf"
        port_lines = ["port 0", f"tls-port {self.port}"] if tls else [f"port {self.port}"]
        lines = [*port_lines, "bind 127.0.0.1", 'save ""', "appendonly no", f"dir {workdir}", *config]
        self.conf.write_text("\n".join(lines) + "\n")
        self._binary = redis_binary()
        self._proc: subprocess.Popen | None = None

    def url(self, user: str = "", password: str = "") -> str:
        credentials = f"{user}:{password}@" if password else ""
        return f"{'rediss' if self.tls else 'redis'}://{credentials}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start it and wait until it accepts connections."""
        self._proc = subprocess.Popen(
            [self._binary, str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.kill()
                    pytest.fail(f"redis-server did not start with {self.conf}")
                time.sleep(0.05)

    def kill(self) -> None:
        """Kill it at once (SIGKILL: no goodbye to its clients), and wait until it is gone."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(10)
        self._proc = None
