"""``GET /api/kinds``: the codebook of event kinds, for the pages.

The pages read the meaning, fields and units of every event kind from here
(:func:`dyadscope.stream.kinds.codebook_json`) instead of carrying their own
copy. No token is needed: it is documentation, with no patient data.

Mount with ``app.include_router(kinds_router)``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dyadscope.stream.kinds import codebook_json

kinds_router = APIRouter()


@kinds_router.get("/api/kinds")
async def kinds() -> dict[str, Any]:
    """Every event kind: ``{"version": 1, "kinds": {kind: {meaning, role, emitted_by, fields}}}``."""
    return codebook_json()
