"""The codebook as the pages and readers get it: ``GET /api/kinds``, ``dyadscope kinds``, docs/event-kinds.md."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import httpx

from dyadscope.service.cmd_kinds import markdown
from dyadscope.stream.kinds import KINDS, codebook_json

DYADSCOPE = Path(sys.executable).with_name("dyadscope")
PAGE = Path(__file__).resolve().parents[1] / "docs" / "event-kinds.md"


def test_the_service_serves_the_codebook_without_a_token(running_service):
    response = httpx.get(f"{running_service.base}/api/kinds")  # no Authorization header
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(codebook_json()))


def test_the_codebook_json_has_the_pages_shape():
    book = codebook_json()
    assert book["version"] == 1 and set(book["kinds"]) == set(KINDS)
    for name, kind in book["kinds"].items():
        assert set(kind) == {"meaning", "role", "emitted_by", "fields"}, name
        assert isinstance(kind["role"], bool) and kind["meaning"] and kind["emitted_by"], name
        for field, spec in kind["fields"].items():
            assert set(spec) == {"type", "unit", "meaning", "optional"}, (name, field)
            assert spec["unit"] is None or isinstance(spec["unit"], str), (name, field)


def test_the_committed_reference_page_is_up_to_date():
    assert PAGE.read_text(encoding="utf-8") == markdown(), (
        "regenerate: dyadscope kinds --markdown > docs/event-kinds.md"
    )


def test_the_kinds_verb_prints_the_page_and_the_json():
    page = subprocess.run([str(DYADSCOPE), "kinds", "--markdown"], capture_output=True, text=True, check=True)
    assert page.stdout == markdown()
    printed = subprocess.run([str(DYADSCOPE), "kinds"], capture_output=True, text=True, check=True)
    assert json.loads(printed.stdout) == json.loads(json.dumps(codebook_json()))


def test_every_kind_names_an_emitter_that_exists():
    for kind in KINDS.values():
        for part in kind.emitted_by.split(";"):
            reference = "dyadscope." + part.strip().split(" ")[0]  # a module, or a class in one
            module, _, name = reference.rpartition(".")
            parent = importlib.import_module(module)
            assert hasattr(parent, name) or importlib.util.find_spec(reference) is not None, (kind.name, reference)
