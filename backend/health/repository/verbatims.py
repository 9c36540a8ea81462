"""A subject's recent feedback texts, for its themes: one bounded SQL statement."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from backend.health.model import WINDOW
from backend.health.themes import Verbatim
from backend.models import Feedback, HealthSubject, Touchpoint
from backend.vocabulary.feedback import SentimentStatus

# The most recent texts say what customers talk about now; more only cost CPU
# (the extraction grows with the text read: 1-2 s for 200 long texts).
MAX_TEXTS = 200
MAX_CHARS = 1_000  # the opening of a long ticket names its subject


def _of_subject(kind: HealthSubject, subject_id: UUID) -> ColumnElement[bool]:
    """Its feedback: on its touchpoints as they stand now, or placed on it directly."""
    if kind is HealthSubject.TOUCHPOINT:
        return Feedback.touchpoint_id == subject_id
    if kind is HealthSubject.WORKSPACE:
        return true()
    parent, own = (
        (Touchpoint.stage_id, Feedback.stage_id)
        if kind is HealthSubject.STAGE
        else (Touchpoint.journey_map_id, Feedback.journey_map_id)
    )
    return or_(
        Feedback.touchpoint_id.in_(select(Touchpoint.id).where(parent == subject_id)),
        and_(Feedback.touchpoint_id.is_(None), own == subject_id),
    )


async def recent_texts(
    session: AsyncSession,
    workspace_id: UUID,
    kind: HealthSubject,
    subject_id: UUID,
    as_of: datetime,
) -> list[Verbatim]:
    """Newest first, within the score's window, at most MAX_TEXTS of MAX_CHARS each."""
    rows = await session.execute(
        select(
            Feedback.id,
            func.substr(Feedback.text, 1, MAX_CHARS),
            Feedback.sentiment,
            Feedback.sentiment_status,
            Feedback.language,
        )
        .where(
            Feedback.workspace_id == workspace_id,
            _of_subject(kind, subject_id),
            Feedback.occurred_at > as_of - WINDOW,
            Feedback.occurred_at <= as_of,
            Feedback.text != "",
        )
        # received_at is indexed per workspace: the newest arrivals without a sort of all.
        .order_by(Feedback.received_at.desc(), Feedback.id.desc())
        .limit(MAX_TEXTS)
    )
    return [
        Verbatim(
            feedback_id,
            text,
            # A stored sentiment counts unless the scorer gave up on the text.
            None if status is SentimentStatus.UNSCORED else sentiment,
            language,
        )
        for feedback_id, text, sentiment, status, language in rows
    ]
