"""`waypost rescore-sentiment`: read a workspace's feedback texts again with the configured
scorer (after a change of scorer, or to replace the former scorer's 0.0 "neutral"s).

A thousand texts a transaction, in id order; a chunk that changed any evidence asks for
a health pass (naming the touchpoints whose sentiment changed) and a backfill of the
history its changed items reach. Interrupted, it resumes with ``--after`` the last
id it printed; run again from the start, it changes nothing the first run did not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated
from uuid import UUID

import typer

from backend.db.engine import database_from_settings
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.entrypoints.commands.common import fail, parse_uuid
from backend.feedback import sentiment
from backend.feedback.repository import FeedbackRepository
from backend.health import backfill, recalculate
from backend.settings import Settings, get_settings


def rescore_sentiment(
    workspace: Annotated[str, typer.Option(help="The id of the workspace whose texts to read.")],
    after: Annotated[
        str | None, typer.Option(help="Resume after this feedback id (printed by a former run).")
    ] = None,
) -> None:
    """Score every feedback text of a workspace again, 1,000 a transaction, resumably."""
    workspace_id = parse_uuid(workspace, "--workspace", "Workspace")
    assert workspace_id is not None  # the option is required
    settings = get_settings()
    read = asyncio.run(
        _rescore(
            settings, workspace_id, parse_uuid(after, "--after", "Feedback"), progress=typer.echo
        )
    )
    typer.echo(f"read {read} texts again with {settings.sentiment_scorer}")


async def _rescore(
    settings: Settings,
    workspace_id: UUID,
    after: UUID | None,
    *,
    progress: Callable[[str], None],
) -> int:
    db = database_from_settings(settings)
    try:
        async with db.transaction(NO_TENANT) as session:
            if not await FeedbackRepository(session).workspace_exists(workspace_id):
                raise fail("no such workspace", field="--workspace")
        scorer = sentiment.load_scorer(settings.sentiment_scorer)
        binding = TenantBinding(frozenset({workspace_id}))
        total = 0
        while True:
            async with db.transaction(binding, write=True) as session:
                chunk = await sentiment.rescore_after(session, workspace_id, after, scorer)
                if chunk.occurred_at:
                    # Stage- or map-only feedback names no touchpoint: the pass still follows.
                    await recalculate.request(
                        session, workspace_id, recalculate.FEEDBACK_RECEIVED, sorted(chunk.changed)
                    )
                    await backfill.request(session, workspace_id, *chunk.occurred_at)
            if not chunk.count:
                return total
            total, after = total + chunk.count, chunk.last_id
            progress(f"{total} texts read; --after {after} resumes after them")
    finally:
        await db.dispose()
