"""Reading stored feedback: the worker's step after a batch arrives, and the re-scoring
of a workspace's texts (after a change of scorer)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.feedback.repository import FeedbackRepository
from backend.feedback.repository import sentiment as queries
from backend.feedback.sentiment.reading import read
from backend.feedback.sentiment.scorer import Scorer, load_scorer
from backend.models import Feedback
from backend.settings import get_settings
from backend.vocabulary.feedback import SentimentStatus

CHUNK = 1000


def _configured() -> Scorer:
    return load_scorer(get_settings().sentiment_scorer)


@dataclass
class _Applied:
    touchpoints: set[UUID] = field(default_factory=set)  # whose sentiment evidence changed
    # When each item whose evidence changed happened (feedback on a stage or map alone
    # names no touchpoint, yet is evidence too).
    occurred_at: list[datetime] = field(default_factory=list)


def _apply(rows: Sequence[Feedback], scorer: Scorer) -> _Applied:
    """Read each row's text; what sentiment evidence changed."""
    changed = _Applied()
    for row in rows:
        reading = read(row.text, scorer)
        # Health counts SCORED values only: PENDING -> UNSCORED changes no evidence.
        was_scored = row.sentiment_status is SentimentStatus.SCORED
        moved = was_scored != (reading.status is SentimentStatus.SCORED) or (
            was_scored and row.sentiment != reading.sentiment
        )
        row.sentiment_status = reading.status
        row.sentiment = reading.sentiment
        row.language = reading.language
        if not moved:
            continue
        if row.touchpoint_id is not None:
            changed.touchpoints.add(row.touchpoint_id)
        changed.occurred_at.append(row.occurred_at)
    return changed


async def score_feedback(
    session: AsyncSession,
    workspace_id: UUID,
    feedback_ids: Iterable[UUID],
    scorer: Scorer | None = None,
) -> set[UUID]:
    """Read the PENDING texts among ``feedback_ids``; the touchpoints whose evidence
    changed (a text became SCORED).

    Rows already read are left alone, so a redelivered event changes nothing.
    """
    scorer = scorer or _configured()
    repository = FeedbackRepository(session)
    ids = list(feedback_ids)
    changed: set[UUID] = set()
    for start in range(0, len(ids), CHUNK):
        changed |= _apply(
            await repository.unscored(workspace_id, ids[start : start + CHUNK]), scorer
        ).touchpoints
    await repository.flush()
    return changed


@dataclass(frozen=True)
class Rescored:
    count: int  # texts read in this chunk (0: the workspace is done)
    last_id: UUID | None  # where the next chunk starts
    changed: set[UUID]  # touchpoints whose sentiment evidence changed
    # When the items whose evidence changed happened (empty: none did, on any subject)
    occurred_at: list[datetime] = field(default_factory=list)


async def rescore_after(
    session: AsyncSession,
    workspace_id: UUID,
    after: UUID | None,
    scorer: Scorer | None = None,
    limit: int = CHUNK,
) -> Rescored:
    """Read again the next ``limit`` texts of the workspace after the id ``after``
    (whatever their status: a new scorer reads old texts differently)."""
    rows = await queries.texts_after(session, workspace_id, after, limit)
    changed = _apply(rows, scorer or _configured())
    await session.flush()
    return Rescored(
        len(rows), rows[-1].id if rows else after, changed.touchpoints, changed.occurred_at
    )
