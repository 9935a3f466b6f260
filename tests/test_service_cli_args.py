"""The command line refuses bad values with one line and exit code 2, and says its version."""

from __future__ import annotations

import subprocess
import sys

import pytest

DYADSCOPE = [sys.executable, "-c", "import sys; from dyadscope.service.cli import main; sys.exit(main())"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DYADSCOPE, *args], capture_output=True, text=True, timeout=60)


def test_version():
    done = _run("--version")
    assert done.returncode == 0 and done.stdout.startswith("dyadscope 0.")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("serve", "--port", "99999"), "argument --port: 99999 is not a port: use 0-65535"),
        (("serve", "--port", "http"), "argument --port: 'http' is not a port number"),
        (("serve", "--duration", "nan"), "argument --duration: nan must be a number above 0"),
        (("record", "--out", "x", "--subject", "A", "--duration", "-1"), "-1 must be a number above 0"),
        (("replay", "x.xdf", "--speed", "0"), "argument --speed: 0 must be a number above 0"),
        (("streams", "--wait", "-2"), "argument --wait: -2 must be a number above 0"),
    ],
)
def test_a_bad_value_is_one_line_and_exit_code_2(args, says):
    done = _run(*args)
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr


def test_options_are_taken_where_users_put_them(tmp_path):
    before = _run("models", "--model-dir", str(tmp_path / "a"), "list")
    after = _run("models", "list", "--model-dir", str(tmp_path / "b"))
    assert before.returncode == after.returncode == 0
    assert str(tmp_path / "a") in before.stdout and str(tmp_path / "b") in after.stdout
