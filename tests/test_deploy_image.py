"""The images: what the Dockerfiles copy and run, and that install in a fresh venv with ``analyze`` and ``export``.

There is no Docker daemon on the CI machine, so the build is replayed: the
Dockerfile's ``COPY`` lines lay out a build context in a temporary folder, a
fresh ``python -m venv`` stands for the image's Python, and the Dockerfile's
own ``RUN scripts/install-image ...`` line runs in it (the image's model
folder pointed at the test's). Then the installed ``dyadscope`` — not this
checkout, whose ``PYTHONPATH`` is dropped — lists its models, simulates a
recording, analyses and exports it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dyadscope.models.build import DEFAULT_MODELS

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILES = {"cpu": ROOT / "deploy" / "Dockerfile", "gpu": ROOT / "deploy" / "Dockerfile.gpu"}


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.read_text().splitlines() if not line.startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(m[1].upper(), m[2].strip()) for m in re.finditer(r"^(\w+)\s+(.*)$", text, re.M)]


def env_of(steps: list[tuple[str, str]]) -> dict[str, str]:
    """The image's environment (``ENV`` in ``KEY=value`` form)."""
    return {k: v for kind, args in steps if kind == "ENV" for k, v in re.findall(r"(\w+)=(\S+)", args)}


def copies(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(source, destination) of each ``COPY``, one pair per source."""
    pairs = []
    for kind, args in steps:
        if kind == "COPY":
            *sources, dest = args.split()
            pairs += [(source, dest) for source in sources]
    return pairs


def install_step(steps: list[tuple[str, str]]) -> str:
    (run,) = [args for kind, args in steps if kind == "RUN" and "scripts/install-image" in args]
    return run


@pytest.mark.parametrize("runtime", DOCKERFILES)
def test_each_image_installs_the_package_extras_and_models_with_the_one_script(runtime):
    steps = instructions(DOCKERFILES[runtime])
    assert install_step(steps) == f"scripts/install-image {runtime}"
    assert env_of(steps)["DYADSCOPE_MODEL_DIR"] == "/opt/dyadscope/models"
    # Every folder the package is built from is in the build context (else pip fails inside the build).
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dirs = set(setuptools["package-dir"].values())
    copied = {source for source, _ in copies(steps)}
    assert {d.split("/")[0] for d in package_dirs} | {"pyproject.toml", "README.md", "scripts/install-image"} <= copied
    assert copies(steps) == copies(instructions(DOCKERFILES["cpu"]))  # both images hold the same files


@pytest.mark.parametrize("runtime", DOCKERFILES)
def test_the_data_volume_is_the_service_users_and_the_image_checks_its_health(runtime):
    steps = instructions(DOCKERFILES[runtime])
    data = env_of(steps)["DYADSCOPE_DATA_DIR"]
    user_at = steps.index(("USER", "dyadscope"))
    (made,) = [args for kind, args in steps[:user_at] if kind == "RUN" and "useradd" in args]
    assert f"install -d -o dyadscope -g dyadscope -m 0700 {data}" in made  # before USER: made as root, for the user
    assert ("VOLUME", data) in steps[user_at:]
    health = [args for kind, args in steps if kind == "HEALTHCHECK"]
    assert len(health) == 1 and health[0].endswith('CMD ["dyadscope", "health"]')
    assert steps[-1] == ("CMD", '["dyadscope", "serve"]')


def _build_context(steps: list[tuple[str, str]], context: Path) -> None:
    """The files the Dockerfile's ``COPY`` lines put under its ``WORKDIR``."""
    for source, dest in copies(steps):
        target = context / dest / Path(source).name if dest.endswith("/") else context / dest
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / source, target)


def _clean_env(venv: Path, **extra: str) -> dict[str, str]:
    """This environment without the checkout's PYTHONPATH or any DYADSCOPE_ setting, the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("DYADSCOPE_")}
    return {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", **extra}


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_cpu_image_install_in_a_fresh_venv_analyzes_and_exports(tmp_path):
    steps = instructions(DOCKERFILES["cpu"])
    context, venv, models, home = tmp_path / "app", tmp_path / "venv", tmp_path / "models", tmp_path / "home"
    _build_context(steps, context)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = _clean_env(venv, DYADSCOPE_MODEL_DIR=str(models), HOME=str(home), DYADSCOPE_DATA_DIR=str(home / "data"))
    built = subprocess.run(["bash", "-c", install_step(steps)], cwd=context, env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]

    def dyadscope(*args: str) -> str:
        command = [venv / "bin" / "dyadscope", *args]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"dyadscope {args[0]}: {done.stderr[-2000:]}"
        return done.stdout

    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import dyadscope.service, onnxruntime; print(dyadscope.service.__file__)"],
        env=env, capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert where.returncode == 0 and where.stdout.startswith(str(venv)), where.stdout + where.stderr
    listed = dyadscope("models", "list")
    for name in DEFAULT_MODELS:
        path = models / f"{name}.onnx"
        assert name in listed and path.stat().st_mode & stat.S_IROTH, f"{name}: missing, or unreadable by the service"
    assert not (models / "wheels").exists()

    dyadscope("simulate", "--out", str(tmp_path / "sim.xdf"), "--duration", "60", "--no-progress")
    dyadscope("analyze", str(tmp_path / "sim.xdf"), "--out", str(tmp_path / "analysis"), "--no-progress")
    events = json.loads((tmp_path / "analysis" / "summary.json").read_text())["events"]
    assert events["heart_rate"] > 50 and events["sync"] > 0 and events["eda"] > 50, events  # 60 s of a dyad
    assert len((tmp_path / "analysis" / "heart_rate.csv").read_text().splitlines()) > 10
    export = ["export", str(tmp_path / "sim.xdf"), "--out", str(tmp_path / "export")]
    dyadscope(*export, "--to", "csv", "--to", "parquet", "--to", "report", "--to", "bids")
    parquet = sorted((tmp_path / "export").rglob("*.parquet"))
    assert parquet and list((tmp_path / "export").rglob("*.png"))
    assert list((tmp_path / "export").rglob("*_physio.tsv.gz"))  # BIDS
    read = f"import pyarrow.parquet as pq; print(min(pq.read_table(p).num_rows for p in {[str(p) for p in parquet]!r}))"
    rows = subprocess.run([str(venv / "bin" / "python"), "-c", read], env=env, capture_output=True, text=True)
    assert rows.returncode == 0 and int(rows.stdout) > 0, rows.stderr
