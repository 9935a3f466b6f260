"""``dyadscope models``: list, build (from the wheels) and check against contracts."""

from __future__ import annotations

import argparse

import pytest
from _models_support import default_models
from test_models_contracts import emonet_like

from dyadscope.service import cmd_models
from dyadscope.service.errors import CliError


def _run(*argv):
    parser = argparse.ArgumentParser()
    cmd_models.register(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(["models", *argv])
    return args.func(args)


def test_list_build_and_check(tmp_path, capsys, tmp_path_factory):
    empty = tmp_path / "empty"
    assert _run("--model-dir", str(empty), "list") == 0
    assert "dyadscope models build" in capsys.readouterr().out

    built = default_models(tmp_path_factory.mktemp("models"))
    assert _run("--model-dir", str(built), "list") == 0
    listing = capsys.readouterr().out
    assert "fer_mini_xception" in listing and "silero_vad" in listing

    model = emonet_like(tmp_path / "my_emonet.onnx")
    assert _run("--model-dir", str(empty), "check", str(model), "--contract", "emonet", "--install") == 0
    assert "follows emonet" in capsys.readouterr().out
    assert (empty / "my_emonet.onnx").is_file() and (empty / "my_emonet.json").is_file()
    assert _run("--model-dir", str(empty), "list") == 0
    assert "my_emonet" in capsys.readouterr().out

    with pytest.raises(CliError, match="needs"):
        _run("--model-dir", str(empty), "check", str(model), "--contract", "hsemotion_va")


def test_build_writes_the_defaults(tmp_path, capsys, tmp_path_factory):
    wheels = default_models(tmp_path_factory.mktemp("models")) / "wheels"
    target = tmp_path / "models"
    target.mkdir()
    (target / "wheels").symlink_to(wheels, target_is_directory=True)  # no second download
    assert _run("--model-dir", str(target), "build") == 0
    out = capsys.readouterr().out
    assert "fer_mini_xception.onnx" in out and "silero_vad.onnx" in out
    assert (target / "fer_mini_xception.json").is_file()
