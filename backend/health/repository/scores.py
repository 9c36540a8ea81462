"""Stored scores and their daily snapshots: written by a pass, read back in the model's terms."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.scoping import require_bound
from backend.health import model
from backend.models import HealthGeneration, HealthScore, HealthSnapshot, HealthSubject, Workspace

# One scored subject of a pass: its kind, its id, its score.
Scored = tuple[HealthSubject, UUID, model.Score]


async def stored(session: AsyncSession, workspace_id: UUID, subject_id: UUID) -> HealthScore | None:
    return await session.get(HealthScore, (workspace_id, subject_id))


async def scores_of_kinds(
    session: AsyncSession, workspace_id: UUID, kinds: Collection[HealthSubject]
) -> dict[UUID, float | None]:
    """The workspace's current scores of subjects of these kinds, by subject (None:
    insufficient evidence)."""
    return dict(
        (
            await session.execute(
                select(HealthScore.id, HealthScore.score).where(
                    HealthScore.workspace_id == workspace_id,
                    HealthScore.subject_type.in_(kinds),
                )
            )
        ).all()
    )


async def next_generation(session: AsyncSession, workspace_id: UUID) -> None:
    """Count this pass: what was derived from the old scores is now out of date."""
    counted = await session.execute(
        update(HealthGeneration)
        .where(HealthGeneration.workspace_id == workspace_id, HealthGeneration.id == workspace_id)
        .values(generation=HealthGeneration.generation + 1)
    )
    if counted.rowcount == 0:  # type: ignore[attr-defined]
        session.add(HealthGeneration(workspace_id=workspace_id, id=workspace_id, generation=1))
        await session.flush()


async def replace(
    session: AsyncSession, workspace_id: UUID, rows: Sequence[Scored], as_of: datetime
) -> None:
    """The workspace's scores become ``rows``; today's snapshot too (the day's last pass
    replaces what an earlier one wrote)."""
    on_postgres = session.get_bind().dialect.name == "postgresql"
    if not (on_postgres and rows):
        await session.execute(delete(HealthScore).where(HealthScore.workspace_id == workspace_id))
    day = as_of.date()
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
    documents = [document_of(kind, subject_id, score) for kind, subject_id, score in rows]
    await session.execute(
        insert(HealthScore),
        [
            {
                "workspace_id": workspace_id,
                **{k: v for k, v in d.items() if k != "previous"},
                "previous_score": d["previous"],
                "computed_at": as_of,
            }
            for d in documents
        ],
    )
    await session.execute(
        insert(HealthSnapshot),
        [
            {
                "workspace_id": workspace_id,
                "subject_id": d["id"],
                "day": day,
                "taken_at": as_of,
                **{k: d[k] for k in SNAPSHOT_COLUMNS},
            }
            for d in documents
        ],
    )


SNAPSHOT_COLUMNS = ("subject_type", "state", "score", "low", "high", "sample_size", "confidence")


def stored_components(components: Sequence[model.Component]) -> list[list[Any]]:
    """Components as stored: each an array of its fields in ``model.Component`` order. A
    workspace's scores carry some 12,000 components; as objects, their keys were most of
    the bytes a pass sent and Postgres parsed."""
    return [list(c) for c in components]


def components_of(stored: Sequence[Sequence[Any]]) -> tuple[model.Component, ...]:
    # A keyed (pre-0024) component would unpack its keys as values: refuse it instead.
    if any(not isinstance(c, list) for c in stored):
        raise ValueError("stored health components must be arrays (migration 0024)")
    return tuple(model.Component(*c) for c in stored)


def document_of(kind: HealthSubject, subject_id: UUID, score: model.Score) -> dict[str, Any]:
    """A score as the columns it is stored in (``previous`` is ``previous_score``)."""
    return {
        "id": subject_id,
        "subject_type": kind,
        "state": score.state,
        "score": score.score,
        "low": score.low,
        "high": score.high,
        "standard_error": score.standard_error,
        "previous": score.previous,
        "sample_size": score.sample_size,
        "previous_sample_size": score.previous_sample_size,
        "confidence": score.confidence,
        "scored_parts": score.scored_parts,
        "parts": score.parts,
        "components": stored_components(score.components),
    }


# Postgres: a workspace's scores travel as one array per column, which asyncpg sends in
# binary and unnest() turns back into rows for both tables; only the components are
# JSON, one small document per score. Row by row through the driver, the two inserts
# were most of a full pass; as one JSON document of every score, Postgres spent half
# the statement parsing it.
#
# Scores are updated in place (the subjects rarely change between passes) and only the
# subjects gone since are deleted: an update that changes no key column is not checked
# against the workspace's foreign key again and, with room on its page, adds no index
# entries; deleting and inserting every score did both, some 40 % of the statement.
PG_WRITE = text(
    """
    WITH r AS (
        SELECT * FROM unnest(
            CAST(:id AS uuid[]), CAST(:subject_type AS text[]), CAST(:state AS text[]),
            CAST(:score AS float8[]), CAST(:low AS float8[]), CAST(:high AS float8[]),
            CAST(:standard_error AS float8[]), CAST(:previous AS float8[]),
            CAST(:sample_size AS int[]), CAST(:previous_sample_size AS int[]),
            CAST(:confidence AS float8[]), CAST(:scored_parts AS int[]),
            CAST(:parts AS int[]), CAST(:components AS jsonb[])
        ) AS r(
            id, subject_type, state, score, low, high, standard_error, previous, sample_size,
            previous_sample_size, confidence, scored_parts, parts, components)
    ), scores AS (
        INSERT INTO health_scores (
            workspace_id, id, subject_type, state, score, low, high, standard_error,
            previous_score, sample_size, previous_sample_size, confidence, scored_parts,
            parts, components, computed_at)
        SELECT CAST(:workspace_id AS uuid), r.id, r.subject_type, r.state, r.score, r.low,
               r.high, r.standard_error, r.previous, r.sample_size, r.previous_sample_size,
               r.confidence, r.scored_parts, r.parts, r.components,
               CAST(:as_of AS timestamptz)
        FROM r
        ON CONFLICT (workspace_id, id) DO UPDATE SET
            subject_type = excluded.subject_type, state = excluded.state,
            score = excluded.score, low = excluded.low, high = excluded.high,
            standard_error = excluded.standard_error,
            previous_score = excluded.previous_score, sample_size = excluded.sample_size,
            previous_sample_size = excluded.previous_sample_size,
            confidence = excluded.confidence, scored_parts = excluded.scored_parts,
            parts = excluded.parts, components = excluded.components,
            computed_at = excluded.computed_at
    ), gone AS (
        DELETE FROM health_scores
        WHERE workspace_id = CAST(:workspace_id AS uuid) AND id NOT IN (SELECT id FROM r)
    )
    INSERT INTO health_snapshots (
        workspace_id, id, subject_id, subject_type, day, state, score, low, high,
        sample_size, confidence, taken_at)
    SELECT CAST(:workspace_id AS uuid), gen_random_uuid(), r.id, r.subject_type,
           CAST(:day AS date), r.state, r.score, r.low, r.high, r.sample_size, r.confidence,
           CAST(:as_of AS timestamptz)
    FROM r
    """
)


async def _write_on_postgres(
    session: AsyncSession, workspace_id: UUID, rows: Sequence[Scored], as_of: datetime
) -> None:
    require_bound(session, workspace_id, "Health scores")
    scored = [s for _, _, s in rows]
    columns: dict[str, list[Any]] = {
        "id": [i for _, i, _ in rows],
        "subject_type": [k.value for k, _, _ in rows],
        "state": [s.state.value for s in scored],
        "score": [s.score for s in scored],
        "low": [s.low for s in scored],
        "high": [s.high for s in scored],
        "standard_error": [s.standard_error for s in scored],
        "previous": [s.previous for s in scored],
        "sample_size": [s.sample_size for s in scored],
        "previous_sample_size": [s.previous_sample_size for s in scored],
        "confidence": [s.confidence for s in scored],
        "scored_parts": [s.scored_parts for s in scored],
        "parts": [s.parts for s in scored],
        "components": [orjson.dumps(stored_components(s.components)).decode() for s in scored],
    }
    await session.execute(
        PG_WRITE, {"workspace_id": workspace_id, "as_of": as_of, "day": as_of.date(), **columns}
    )


async def workspace_scores_of_organization(
    session: AsyncSession, organization_id: UUID
) -> Sequence[HealthScore]:
    """The workspace-level scores of an organization the session can see (its tenant
    scope decides)."""
    return (
        await session.scalars(
            select(HealthScore)
            .join(Workspace, Workspace.id == HealthScore.workspace_id)
            .where(
                Workspace.organization_id == organization_id,
                HealthScore.subject_type == HealthSubject.WORKSPACE,
            )
        )
    ).all()


async def snapshots(
    session: AsyncSession, subject_id: UUID, first_day: date, last_day: date
) -> Sequence[HealthSnapshot]:
    """A subject's daily snapshots from the first day to the last (both kept), oldest first."""
    return (
        await session.scalars(
            select(HealthSnapshot)
            .where(
                HealthSnapshot.subject_id == subject_id,
                HealthSnapshot.day >= first_day,
                HealthSnapshot.day <= last_day,
            )
            .order_by(HealthSnapshot.day)
        )
    ).all()
