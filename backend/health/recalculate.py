"""Recalculating a workspace's health: pending requests in, stored scores and snapshots out.

A pass refreshes the evidence of the touchpoints that changed (all of them in a
full pass), then computes every score of the workspace from evidence and
structure: the second step reads one row per touchpoint, so it stays cheap
while the first, which reads feedback, touches only what moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend import gc_tuning
from backend.db.scoping import require_bound
from backend.db.types import utcnow
from backend.health import alerts, evidence, model
from backend.models import (
    HealthEvidence,
    HealthGeneration,
    HealthRequest,
    HealthScore,
    HealthSnapshot,
    HealthSubject,
    JourneyMap,
    PainPoint,
    Stage,
    Touchpoint,
)
from backend.vocabulary.journeys import MapStatus, PainPointStatus, Scenario, Severity

STRUCTURE_CHANGED = "structure"
FEEDBACK_RECEIVED = "feedback"


async def request(
    session: AsyncSession,
    workspace_id: UUID,
    reason: str,
    touchpoints: Iterable[UUID] = (),
) -> None:
    """Note what changed; the next pass for the workspace picks it up."""
    rows = [{"touchpoint_id": t, "reason": reason} for t in touchpoints] or [
        {"touchpoint_id": None, "reason": reason}
    ]
    session.add_all(HealthRequest(workspace_id=workspace_id, **row) for row in rows)
    await session.flush()


@dataclass(frozen=True)
class PassResult:
    full: bool
    requests: int
    touchpoints_refreshed: int
    health: model.WorkspaceHealth


async def recalculate(
    session: AsyncSession,
    workspace_id: UUID,
    *,
    full: bool = False,
    as_of: datetime | None = None,
) -> PassResult | None:
    """One pass; None when nothing was pending (an earlier pass took this burst)."""
    # A full pass of a workspace of 2,000 touchpoints makes some 40,000 small objects.
    with gc_tuning.fewer_collections():
        return await _recalculate(session, workspace_id, full=full, as_of=as_of)


async def _recalculate(
    session: AsyncSession, workspace_id: UUID, *, full: bool, as_of: datetime | None
) -> PassResult | None:
    await _lock(session, workspace_id)
    as_of = as_of or utcnow()
    pending = (
        await session.scalars(
            select(HealthRequest).where(HealthRequest.workspace_id == workspace_id)
        )
    ).all()
    if not pending and not full:
        return None
    if pending:
        await session.execute(
            delete(HealthRequest).where(
                HealthRequest.workspace_id == workspace_id,
                HealthRequest.id.in_([r.id for r in pending]),
            )
        )
    touched = {r.touchpoint_id for r in pending if r.touchpoint_id is not None}
    refreshed = await evidence.refresh(session, workspace_id, as_of, None if full else touched)
    health = model.compute(*await load_facts(session, workspace_id, as_of))
    await _store(session, workspace_id, health, as_of)
    return PassResult(full, len(pending), refreshed, health)


async def _lock(session: AsyncSession, workspace_id: UUID) -> None:
    # Two passes for one workspace at once would read the same requests; the
    # second waits here and then finds them gone. SQLite's write lock does this.
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"waypost.health:{workspace_id}"},
        )


async def load_facts(
    session: AsyncSession, workspace_id: UUID, as_of: datetime
) -> tuple[list[model.TouchpointFacts], list[model.StageFacts], list[model.MapFacts]]:
    maps = (
        await session.execute(
            select(JourneyMap.id, JourneyMap.status, JourneyMap.scenario).where(
                JourneyMap.workspace_id == workspace_id, JourneyMap.deleted_at.is_(None)
            )
        )
    ).all()
    live = {m.id for m in maps}
    stages = [
        model.StageFacts(s.id, s.journey_map_id)
        for s in (
            await session.execute(
                select(Stage.id, Stage.journey_map_id)
                .where(Stage.workspace_id == workspace_id)
                .order_by(Stage.journey_map_id, Stage.position)
            )
        ).all()
        if s.journey_map_id in live
    ]
    pains: dict[UUID, list[Severity]] = defaultdict(list)
    for touchpoint_id, severity in (
        await session.execute(
            select(PainPoint.touchpoint_id, PainPoint.severity).where(
                PainPoint.workspace_id == workspace_id,
                PainPoint.status == PainPointStatus.OPEN,
            )
        )
    ).all():
        pains[touchpoint_id].append(severity)
    found = {
        row[0]: row
        for row in (
            await session.execute(
                select(*_EVIDENCE_COLUMNS).where(HealthEvidence.workspace_id == workspace_id)
            )
        ).all()
    }
    touchpoints = [
        model.TouchpointFacts(
            id=t.id,
            stage_id=t.stage_id,
            journey_map_id=t.journey_map_id,
            moment_of_truth=t.moment_of_truth,
            emotion=t.emotion,
            open_pains=tuple(sorted(pains.get(t.id, ()))),
            current=_evidence(found.get(t.id), as_of, previous=False),
            previous=_evidence(found.get(t.id), as_of, previous=True),
        )
        for t in (
            await session.execute(
                select(
                    Touchpoint.id,
                    Touchpoint.stage_id,
                    Touchpoint.journey_map_id,
                    Touchpoint.moment_of_truth,
                    Touchpoint.emotion,
                )
                .where(Touchpoint.workspace_id == workspace_id)
                .order_by(Touchpoint.stage_id, Touchpoint.position)
            )
        ).all()
        if t.journey_map_id in live
    ]
    journey_maps = [
        model.MapFacts(m.id, m.status == MapStatus.ACTIVE and m.scenario == Scenario.CURRENT_STATE)
        for m in maps
    ]
    return touchpoints, stages, journey_maps


# id, as_of, then the current window's seven sums and the previous window's seven.
_EVIDENCE_COLUMNS = (
    HealthEvidence.id,
    HealthEvidence.as_of,
    *(getattr(HealthEvidence, name) for name in evidence.COLUMNS),
    *(getattr(HealthEvidence, f"previous_{name}") for name in evidence.COLUMNS),
)


def _evidence(row: Sequence[Any] | None, as_of: datetime, *, previous: bool) -> model.Evidence:
    if row is None:
        return model.NO_EVIDENCE
    # Positions follow _EVIDENCE_COLUMNS; within a window, evidence.COLUMNS' order:
    # satisfaction's three, sentiment's three, items.
    at = 2 + (len(evidence.COLUMNS) if previous else 0)
    found = model.Evidence(
        model.Tally(row[at], row[at + 1], row[at + 2]),
        model.Tally(row[at + 3], row[at + 4], row[at + 5]),
        row[at + 6],
    )
    # Rows refreshed at different moments are weighed as of this pass.
    evidence_as_of = row[1]
    if evidence_as_of == as_of:
        return found
    return found.scaled(model.decay_factor(evidence_as_of, as_of))


def _rows(
    health: model.WorkspaceHealth, workspace_id: UUID
) -> list[tuple[HealthSubject, UUID, model.Score]]:
    rows = [
        *((HealthSubject.TOUCHPOINT, i, s) for i, s in health.touchpoints.items()),
        *((HealthSubject.STAGE, i, s) for i, s in health.stages.items()),
        *((HealthSubject.JOURNEY_MAP, i, s) for i, s in health.maps.items()),
    ]
    if health.workspace is not None:
        rows.append((HealthSubject.WORKSPACE, workspace_id, health.workspace))
    return rows


async def _next_generation(session: AsyncSession, workspace_id: UUID) -> None:
    """Count this pass: what was derived from the old scores is now out of date."""
    counted = await session.execute(
        update(HealthGeneration)
        .where(HealthGeneration.workspace_id == workspace_id, HealthGeneration.id == workspace_id)
        .values(generation=HealthGeneration.generation + 1)
    )
    if counted.rowcount == 0:  # type: ignore[attr-defined]
        session.add(HealthGeneration(workspace_id=workspace_id, id=workspace_id, generation=1))
        await session.flush()


async def _store(
    session: AsyncSession, workspace_id: UUID, health: model.WorkspaceHealth, as_of: datetime
) -> None:
    rows = _rows(health, workspace_id)
    await _next_generation(session, workspace_id)
    replaced = dict(
        (
            await session.execute(
                select(HealthScore.id, HealthScore.score).where(
                    HealthScore.workspace_id == workspace_id,
                    HealthScore.subject_type.in_(alerts.ALERTED),
                )
            )
        ).all()
    )
    on_postgres = session.get_bind().dialect.name == "postgresql"
    if not (on_postgres and rows):
        await session.execute(delete(HealthScore).where(HealthScore.workspace_id == workspace_id))
    await alerts.record_crossings(session, workspace_id, replaced, rows)
    day = as_of.date()
    # Today's snapshot: the day's last pass replaces what an earlier one wrote.
    await session.execute(
        delete(HealthSnapshot).where(
            HealthSnapshot.workspace_id == workspace_id, HealthSnapshot.day == day
        )
    )
    if not rows:
        return
    if on_postgres:
        await _write_on_postgres(session, workspace_id, rows, as_of)
        return
    await session.execute(
        insert(HealthScore),
        [
            {
                "workspace_id": workspace_id,
                "id": subject_id,
                "subject_type": kind,
                "score": score.score,
                "previous_score": score.previous,
                "sample_size": score.sample_size,
                "previous_sample_size": score.previous_sample_size,
                "confidence": score.confidence,
                "components": [dict(vars(c)) for c in score.components],
                "computed_at": as_of,
            }
            for kind, subject_id, score in rows
        ],
    )
    await session.execute(
        insert(HealthSnapshot),
        [
            {
                "workspace_id": workspace_id,
                "subject_id": subject_id,
                "subject_type": kind,
                "day": day,
                "score": score.score,
                "sample_size": score.sample_size,
                "confidence": score.confidence,
                "taken_at": as_of,
            }
            for kind, subject_id, score in rows
        ],
    )


# Postgres: a workspace's scores travel as one JSON document (orjson encodes the
# dataclasses, components included, in C), unpacked once by jsonb_to_recordset for
# both tables. Row by row through the driver, the two inserts were most of a full
# pass: some 4,000 rows a workspace, each value encoded on its own.
#
# Scores are updated in place (the subjects rarely change between passes) and only the
# subjects gone since are deleted: an update that changes no key column is not checked
# against the workspace's foreign key again and, with room on its page, adds no index
# entries; deleting and inserting every score did both, some 40 % of the statement.
_PG_WRITE = text(
    """
    WITH r AS (
        SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
            id uuid, subject_type text, score float8, previous float8, sample_size int,
            previous_sample_size int, confidence float8, components jsonb)
    ), scores AS (
        INSERT INTO health_scores (
            workspace_id, id, subject_type, score, previous_score, sample_size,
            previous_sample_size, confidence, components, computed_at)
        SELECT CAST(:workspace_id AS uuid), r.id, r.subject_type, r.score, r.previous,
               r.sample_size, r.previous_sample_size, r.confidence, r.components,
               CAST(:as_of AS timestamptz)
        FROM r
        ON CONFLICT (workspace_id, id) DO UPDATE SET
            subject_type = excluded.subject_type, score = excluded.score,
            previous_score = excluded.previous_score, sample_size = excluded.sample_size,
            previous_sample_size = excluded.previous_sample_size,
            confidence = excluded.confidence, components = excluded.components,
            computed_at = excluded.computed_at
    ), gone AS (
        DELETE FROM health_scores
        WHERE workspace_id = CAST(:workspace_id AS uuid) AND id NOT IN (SELECT id FROM r)
    )
    INSERT INTO health_snapshots (
        workspace_id, id, subject_id, subject_type, day, score, sample_size, confidence,
        taken_at)
    SELECT CAST(:workspace_id AS uuid), gen_random_uuid(), r.id, r.subject_type,
           CAST(:day AS date), r.score, r.sample_size, r.confidence,
           CAST(:as_of AS timestamptz)
    FROM r
    """
)


async def _write_on_postgres(
    session: AsyncSession,
    workspace_id: UUID,
    rows: list[tuple[HealthSubject, UUID, model.Score]],
    as_of: datetime,
) -> None:
    require_bound(session, workspace_id, "Health scores")
    document = orjson.dumps(
        [
            {"id": str(subject_id), "subject_type": kind, **vars(score)}
            for kind, subject_id, score in rows
        ]
    ).decode()
    await session.execute(
        _PG_WRITE,
        {"workspace_id": workspace_id, "rows": document, "as_of": as_of, "day": as_of.date()},
    )


def score_of(row: HealthScore) -> model.Score:
    """A stored score back into the model's terms, for reads and explanations."""
    return model.Score(
        score=row.score,
        components=tuple(model.Component(**c) for c in row.components),
        sample_size=row.sample_size,
        confidence=row.confidence,
        previous=row.previous_score,
        previous_sample_size=row.previous_sample_size,
    )
