"""``dyadscope kinds``: the codebook of event kinds, as JSON or as the reference page.

``dyadscope kinds --markdown > docs/event-kinds.md`` regenerates the committed
reference page (a test fails when it is out of date); without ``--markdown``
it prints :func:`~dyadscope.stream.kinds.codebook_json`.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``kinds`` verb."""
    parser = subparsers.add_parser(
        "kinds",
        help="print the codebook of event kinds (JSON, or the Markdown reference page)",
        description="Print every event kind a session emits, with its fields, units and meaning.",
    )
    parser.add_argument("--markdown", action="store_true", help="the reference page (docs/event-kinds.md)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dyadscope.stream.kinds import codebook_json

    sys.stdout.write(markdown() if args.markdown else json.dumps(codebook_json(), indent=2, ensure_ascii=False) + "\n")
    return 0


def _cell(text: str | None) -> str:
    return "" if text is None else str(text).replace("|", "\\|")


def markdown() -> str:
    """The reference page of every event kind, generated from the codebook."""
    from dyadscope.stream.kinds import ENVELOPE, KINDS

    lines = [
        "# Event kinds",
        "",
        "<!-- Generated from stream/kinds.py by `dyadscope kinds --markdown`; do not edit. -->",
        "",
        "Every event a session logs (websocket, event log, XDF `DyadScope events` stream, exported tables)",
        "has the envelope below and a `data` object whose fields depend on its `kind`. Times are on the",
        "session clock in seconds; unit `1` is dimensionless; `optional` fields may be absent.",
        "The service serves the same codebook as JSON at `GET /api/kinds`.",
        "",
        "## Envelope",
        "",
        "| field | type | unit | meaning |",
        "|---|---|---|---|",
        *(f"| `{n}` | {_cell(f.type)} | {_cell(f.unit)} | {_cell(f.meaning)} |" for n, f in ENVELOPE.items()),
        "",
        "## Kinds",
        "",
        "| kind | per person | meaning |",
        "|---|---|---|",
        *(f"| [`{k.name}`](#{k.name}) | {'yes' if k.role else 'no'} | {_cell(k.meaning)} |" for k in KINDS.values()),
    ]
    for kind in KINDS.values():
        lines += ["", f"### {kind.name}", "", f"{kind.meaning}. Emitted by `{kind.emitted_by}`;"]
        lines.append(
            "one person's (`role` patient or therapist)." if kind.role else "dyadic or session-wide (`role` null)."
        )
        lines += ["", "| field | type | unit | optional | meaning |", "|---|---|---|---|---|"]
        lines += [
            f"| `{n}` | {_cell(f.type)} | {_cell(f.unit)} | {'yes' if f.optional else ''} | {_cell(f.meaning)} |"
            for n, f in kind.fields.items()
        ]
    return "\n".join(lines) + "\n"
