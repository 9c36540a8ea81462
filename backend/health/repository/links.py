"""The pain points on a subject's touchpoints and the initiatives that name them.

Initiatives sit above health in the layers, so health reads their rows here, as
rows, rather than asking the initiatives package. An initiative's links are id
lists (JSON), matched in Python against the few touchpoints in question: the
same on SQLite and Postgres, and a workspace's initiatives are a short list.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import HealthSubject, Initiative, PainPoint, Touchpoint
from backend.vocabulary.initiatives import InitiativeStatus
from backend.vocabulary.journeys import PainPointStatus, Severity

_SEVERITY_RANK = {s: rank for rank, s in enumerate(Severity)}

Subject = tuple[HealthSubject, UUID]


@dataclass
class Links:
    pain_points: list[PainPoint] = field(default_factory=list)  # open, most severe first
    initiatives: list[Initiative] = field(default_factory=list)  # not cancelled, by priority


async def _touchpoints(
    session: AsyncSession, subjects: Sequence[Subject]
) -> Sequence[tuple[UUID, UUID, UUID, UUID]]:
    ids = {kind: [s for k, s in subjects if k is kind] for kind in HealthSubject}
    rows = await session.execute(
        select(
            Touchpoint.id, Touchpoint.stage_id, Touchpoint.journey_map_id, Touchpoint.workspace_id
        ).where(
            or_(
                Touchpoint.id.in_(ids[HealthSubject.TOUCHPOINT]),
                Touchpoint.stage_id.in_(ids[HealthSubject.STAGE]),
                Touchpoint.journey_map_id.in_(ids[HealthSubject.JOURNEY_MAP]),
            )
        )
    )
    return [(t, s, m, w) for t, s, m, w in rows]


async def links_of(session: AsyncSession, subjects: Sequence[Subject]) -> dict[Subject, Links]:
    """Three statements for any number of subjects; a workspace has no links of its own."""
    found: dict[Subject, Links] = {subject: Links() for subject in subjects}
    touchpoints = await _touchpoints(session, subjects)
    if not touchpoints:
        return found
    members: dict[Subject, set[UUID]] = defaultdict(set)
    for touchpoint_id, stage_id, map_id, _ in touchpoints:
        members[HealthSubject.TOUCHPOINT, touchpoint_id].add(touchpoint_id)
        members[HealthSubject.STAGE, stage_id].add(touchpoint_id)
        members[HealthSubject.JOURNEY_MAP, map_id].add(touchpoint_id)
    pains = (
        await session.scalars(
            select(PainPoint).where(PainPoint.touchpoint_id.in_({t[0] for t in touchpoints}))
        )
    ).all()
    initiatives = (
        await session.scalars(
            select(Initiative)
            .where(
                Initiative.workspace_id.in_({t[3] for t in touchpoints}),
                Initiative.status != InitiativeStatus.CANCELLED,
            )
            .order_by(Initiative.priority.desc(), Initiative.id)
        )
    ).all()
    for subject, links in found.items():
        on = members.get(subject, set())
        # Every pain point of its touchpoints, resolved ones too: the work that
        # resolved one still addresses the subject.
        its_pains = [p for p in pains if p.touchpoint_id in on]
        named = {str(t) for t in on} | {str(p.id) for p in its_pains}
        links.pain_points = sorted(
            (p for p in its_pains if p.status is PainPointStatus.OPEN),
            key=lambda p: (-_SEVERITY_RANK[p.severity], p.title, p.id),
        )
        links.initiatives = [
            i for i in initiatives if not named.isdisjoint([*i.touchpoint_ids, *i.pain_point_ids])
        ]
    return found
