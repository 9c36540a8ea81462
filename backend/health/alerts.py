"""Alerts and staleness: a workspace's thresholds, the crossings they record, stale maps.

A pass compares each touchpoint's, map's and the workspace's new score with the one it
replaces; crossing ``alert_below`` either way records a ``HealthAlert`` and emits a
``health.alert`` outbox event (for subscriptions and webhooks). A subject without
enough evidence has no score, so it raises nothing: silence is not a fall. A map is stale when
nobody has reviewed it for ``stale_after_days``, or when its score fell by at least
``sharp_drop_points`` on the previous window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.audit.chain import changes_of
from backend.authz.access import Access
from backend.db.types import utcnow
from backend.errors import NotFound, ValidationFailed
from backend.health import model
from backend.health.commands import MarkReviewed, UpdateThresholds
from backend.health.reads import score_of
from backend.health.repository import alerts as repository
from backend.health.repository import scores
from backend.models import AlertKind, HealthAlert, HealthSubject, MapReview
from backend.outbox import emit as outbox
from backend.patch import UNSET
from backend.validation import Checks
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.roles import WorkspaceRole

DEFAULT_ALERT_BELOW = 50.0
DEFAULT_STALE_AFTER_DAYS = 90
DEFAULT_SHARP_DROP_POINTS = 10.0
ALERTED = (HealthSubject.TOUCHPOINT, HealthSubject.JOURNEY_MAP, HealthSubject.WORKSPACE)


@dataclass(frozen=True)
class Thresholds:
    alert_below: float | None = DEFAULT_ALERT_BELOW
    stale_after_days: int = DEFAULT_STALE_AFTER_DAYS
    sharp_drop_points: float = DEFAULT_SHARP_DROP_POINTS


async def thresholds_of(session: AsyncSession, workspace_id: UUID) -> Thresholds:
    row = await repository.settings(session, workspace_id)
    if row is None:
        return Thresholds()
    return Thresholds(row.alert_below, row.stale_after_days, row.sharp_drop_points)


def _finite(value: float, field: str, low: float, high: float) -> float:
    if not math.isfinite(value) or not low <= value <= high:
        raise ValidationFailed(f"Must be between {low:g} and {high:g}.", field=field)
    return value


async def update_thresholds(
    session: AsyncSession, access: Access, command: UpdateThresholds
) -> Thresholds:
    """Set any of alert_below (None: no alerts), stale_after_days, sharp_drop_points."""
    workspace_id = command.workspace_id
    access.require_workspace(workspace_id, WorkspaceRole.ADMIN, field="workspace_id")
    current = await thresholds_of(session, workspace_id)
    given: dict[str, Any] = {}
    with Checks() as check:  # every field's mistake at once
        if command.alert_below is not UNSET:
            below = command.alert_below
            given["alert_below"] = (
                None if below is None else check(_finite, below, "alert_below", 0, 100)
            )
        if command.stale_after_days is not UNSET:
            if not 1 <= command.stale_after_days <= 3650:
                check.fail(
                    ValidationFailed("Must be between 1 and 3650 days.", field="stale_after_days")
                )
            given["stale_after_days"] = command.stale_after_days
        if command.sharp_drop_points is not UNSET:
            given["sharp_drop_points"] = check(
                _finite, command.sharp_drop_points, "sharp_drop_points", 0.1, 100
            )
    wanted = replace(current, **given)
    await repository.save_settings(
        session,
        workspace_id,
        alert_below=wanted.alert_below,
        stale_after_days=wanted.stale_after_days,
        sharp_drop_points=wanted.sharp_drop_points,
    )
    await audit.record(
        session,
        workspace_id=workspace_id,
        action=AuditAction.HEALTH_SETTINGS_UPDATE,
        subject_type="Workspace",
        subject_id=workspace_id,
        changes=changes_of(asdict(current), asdict(wanted)),
    )
    return wanted


def crossing(was_below: bool | None, after: float, threshold: float) -> AlertKind | None:
    """FELL_BELOW when the score went under the threshold (or first appeared under it),
    RECOVERED when it came back; ``was_below`` None: the subject had no standing yet."""
    if after < threshold and was_below is not True:
        return AlertKind.FELL_BELOW
    if after >= threshold and was_below is True:
        return AlertKind.RECOVERED
    return None


async def record_crossings(
    session: AsyncSession,
    workspace_id: UUID,
    before: Mapping[UUID, float | None],
    after: Sequence[scores.Scored],
) -> list[HealthAlert]:
    """Called by a pass with the scores it replaced and the ones it wrote.

    A subject whose previous score is missing (too little evidence for a while) keeps
    the standing its last alert gave it: 30, then no score, then 30 again is one fall,
    not two, and 30, no score, 70 is a recovery.
    """
    threshold = (await thresholds_of(session, workspace_id)).alert_below
    if threshold is None:
        return []
    scored = [
        (kind, subject_id, score.score)
        for kind, subject_id, score in after
        if kind in ALERTED and score.score is not None
    ]
    unknown = [subject_id for _, subject_id, _ in scored if before.get(subject_id) is None]
    last = await repository.last_alert_kinds(session, workspace_id, unknown) if unknown else {}

    def was_below(subject_id: UUID) -> bool | None:
        previous = before.get(subject_id)
        if previous is not None:
            return previous < threshold
        kind = last.get(subject_id)
        return None if kind is None else kind is AlertKind.FELL_BELOW

    alerts = [
        HealthAlert(
            workspace_id=workspace_id,
            subject_type=kind,
            subject_id=subject_id,
            kind=found,
            threshold=threshold,
            score_before=before.get(subject_id),
            score_after=value,
        )
        for kind, subject_id, value in scored
        if (found := crossing(was_below(subject_id), value, threshold)) is not None
    ]
    if not alerts:
        return []
    await repository.add_alerts(session, alerts)
    for alert in alerts:
        await outbox.emit(
            session,
            workspace_id,
            "health.alert",
            {
                "alert_id": alert.id,
                "kind": alert.kind,
                "subject_type": alert.subject_type,
                "subject_id": alert.subject_id,
                "threshold": alert.threshold,
                "score_before": alert.score_before,
                "score_after": alert.score_after,
            },
        )
    return alerts


class StaleReason(StrEnum):
    NOT_REVIEWED = "NOT_REVIEWED"
    HEALTH_FELL = "HEALTH_FELL"


@dataclass(frozen=True)
class Staleness:
    reasons: list[StaleReason]
    last_reviewed_at: datetime | None
    review_due_at: datetime

    @property
    def stale(self) -> bool:
        return bool(self.reasons)


def staleness(
    created_at: datetime,
    review: MapReview | None,
    score: model.Score | None,
    thresholds: Thresholds,
    now: datetime,
) -> Staleness:
    since = review.reviewed_at if review else created_at
    due = since + timedelta(days=thresholds.stale_after_days)
    reasons = []
    if now >= due:
        reasons.append(StaleReason.NOT_REVIEWED)
    if (
        score is not None
        and score.trend is not None
        and score.trend <= -thresholds.sharp_drop_points
    ):
        reasons.append(StaleReason.HEALTH_FELL)
    return Staleness(reasons, review.reviewed_at if review else None, due)


async def map_staleness(session: AsyncSession, workspace_id: UUID, map_id: UUID) -> Staleness:
    journey_map = await repository.journey_map(session, workspace_id, map_id)
    if journey_map is None:
        raise NotFound("Journey map", field="id")
    score = await scores.stored(session, workspace_id, map_id)
    return staleness(
        journey_map.created_at,
        await repository.review(session, workspace_id, map_id),
        score_of(score) if score else None,
        await thresholds_of(session, workspace_id),
        utcnow(),
    )


async def mark_reviewed(session: AsyncSession, access: Access, command: MarkReviewed) -> MapReview:
    map_id, note = command.map_id, command.note
    journey_map = await repository.live_journey_map(session, map_id)
    if journey_map is None or access.workspace_role(journey_map.workspace_id) is None:
        raise NotFound("Journey map", field="id")
    access.require_workspace(journey_map.workspace_id, WorkspaceRole.EDITOR, field="id")
    if len(note) > 2000:
        raise ValidationFailed("At most 2000 characters.", field="note")
    review = await repository.review(session, journey_map.workspace_id, map_id)
    before = {"reviewed_at": review.reviewed_at if review else None}
    if review is None:
        review = MapReview(workspace_id=journey_map.workspace_id, id=map_id)
    review.reviewed_at = utcnow()
    review.reviewed_by = access.user_id
    review.note = note
    await repository.save_review(session, review)
    await audit.record(
        session,
        workspace_id=journey_map.workspace_id,
        action=AuditAction.JOURNEY_MAP_REVIEW,
        subject_type="JourneyMap",
        subject_id=map_id,
        changes=changes_of(before, {"reviewed_at": review.reviewed_at, "note": note}),
    )
    return review
