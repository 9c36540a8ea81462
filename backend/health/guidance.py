"""What a CX lead reads next to a score: its themes, and the work that addresses it.

Themes are cached in-process by the exact texts they were drawn from: the
statement that fetches the texts runs every time (so what a caller may read is
decided by its own transaction), the extraction only when the texts or their
sentiment changed. The extraction is CPU-bound (1-2 s for 200 long texts), so it
runs in a worker thread: the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.health import themes
from backend.health.repository import links, verbatims
from backend.models import HealthSubject

CACHED_THEMES = 512

_cache: OrderedDict[tuple[object, ...], themes.Themes] = OrderedDict()


async def themes_of(
    session: AsyncSession,
    workspace_id: UUID,
    kind: HealthSubject,
    subject_id: UUID,
    as_of: datetime,
) -> themes.Themes:
    texts = tuple(await verbatims.recent_texts(session, workspace_id, kind, subject_id, as_of))
    key = (workspace_id, kind, subject_id, len(texts), hash(texts))
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = await asyncio.to_thread(themes.themes, texts)
        if len(_cache) > CACHED_THEMES:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    return found


async def links_of(
    session: AsyncSession, subjects: list[tuple[HealthSubject, UUID]]
) -> dict[tuple[HealthSubject, UUID], links.Links]:
    """For each subject, its open pain points and the initiatives that address it."""
    return await links.links_of(session, subjects)
