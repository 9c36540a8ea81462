"""A map's version: every change to a map, or to anything inside it, moves it by one.

A change locks the map row (``lock_for_change``), refuses a stale expected version
with CONFLICT, and afterwards ``new_version`` bumps ``version``, stores a full snapshot
as a revision (on Postgres, Postgres writes it: ``snapshot_sql``) and emits
``journey_map.changed``, all in the caller's transaction.
Writers of one map therefore queue, and N concurrent writers that all read version v
get one success and N-1 conflicts, never a lost update.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import recorder as audit
from backend.authz.access import Access
from backend.db.base import Base
from backend.db.types import utcnow
from backend.errors import Conflict, NotFound
from backend.journeys import snapshot_sql
from backend.journeys.repository import MapRepository
from backend.journeys.snapshots import snapshot_in_python, written_by_postgres
from backend.models import JourneyMap, JourneyMapRevision
from backend.outbox import emit as outbox
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.journeys import RevisionAction
from backend.vocabulary.roles import WorkspaceRole


class StaleVersion(Conflict):
    def __init__(self, journey_map_id: UUID, current: int, expected: int) -> None:
        super().__init__(
            f"The map is at version {current}, not {expected}: reload and apply your change again.",
            field="expected_version",
        )
        self.journey_map_id = journey_map_id  # the API answers with the map as it is now
        self.current_version = current


def check_version(journey_map: JourneyMap, expected_version: int | None) -> None:
    if expected_version is not None and journey_map.version != expected_version:
        raise StaleVersion(journey_map.id, journey_map.version, expected_version)


async def lock_for_change(
    session: AsyncSession,
    access: Access,
    map_id: UUID,
    expected_version: int | None,
    *,
    field: str = "id",
) -> JourneyMap:
    """The live map, locked, checked against the caller's role and expected version."""
    journey_map = await MapRepository(session).locked(map_id)
    if journey_map is None:
        raise NotFound("Journey map", field=field)
    access.require_workspace(journey_map.workspace_id, WorkspaceRole.EDITOR, field=field)
    check_version(journey_map, expected_version)
    return journey_map


async def new_version(
    session: AsyncSession,
    by: Access | None,
    journey_map: JourneyMap,
    action: RevisionAction,
    *,
    detail: object = None,
) -> None:
    """Bump the map's version and record it as a revision made by ``action`` (stored with
    its ``detail``, if any: the version a restore brought back).

    ``by`` is None for a change the system makes (a persona's deletion, say).
    """
    journey_map.version += 1
    await _record(session, by, journey_map, action.stored(detail))


async def first_version(
    session: AsyncSession,
    by: Access,
    journey_map: JourneyMap,
    action: RevisionAction,
    *,
    detail: object = None,
) -> None:
    """Record a new map's version 1 (it was created, or copied) as its first revision."""
    await _record(session, by, journey_map, action.stored(detail))


async def _record(
    session: AsyncSession, by: Access | None, journey_map: JourneyMap, action: str
) -> None:
    made_by = by.user_id if by else None
    journey_map.updated_at = utcnow()
    journey_map.updated_by = made_by
    await session.flush()
    if written_by_postgres(session):
        # One statement: Postgres writes the document where it stores it.
        await snapshot_sql.insert_revision(
            session,
            revision_id=uuid4(),
            workspace_id=journey_map.workspace_id,
            map_id=journey_map.id,
            version=journey_map.version,
            action=action,
            created_at=utcnow(),
            created_by=made_by,
        )
    else:
        MapRepository(session).add_revision(
            JourneyMapRevision(
                workspace_id=journey_map.workspace_id,
                journey_map_id=journey_map.id,
                version=journey_map.version,
                action=action,
                snapshot=await snapshot_in_python(session, journey_map),
                created_at=utcnow(),
                created_by=made_by,
            )
        )
    await outbox.emit(
        session,
        journey_map.workspace_id,
        "journey_map.changed",
        {"journey_map_id": journey_map.id, "version": journey_map.version, "action": action},
    )


async def audit_content_change(
    session: AsyncSession,
    journey_map: JourneyMap,
    action: RevisionAction,
    subject: Base,
    subject_id: UUID,
    changes: dict[str, object],
) -> None:
    """The audit event of a change inside a map, naming the map and its new version: the
    trail names the change as the revision does."""
    await audit.record(
        session,
        workspace_id=journey_map.workspace_id,
        action=AuditAction(action.value),
        subject_type=type(subject).__name__,
        subject_id=subject_id,
        changes={"journey_map_id": str(journey_map.id), "version": journey_map.version, **changes},
    )
