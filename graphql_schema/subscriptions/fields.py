"""The Subscription type: a journey map's changes, a workspace's health alerts and its
new feedback, each authorized like the query that reads the same thing."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from backend.feedback import repository as feedback_repository
from backend.health.reads import alert_by_id
from backend.journeys import revisions
from backend.journeys.repository import MapRepository
from backend.outbox.live import LiveEvent
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.journeys import RevisionAction
from graphql_schema.context import Context, Info
from graphql_schema.health.types import HealthAlertType
from graphql_schema.journeys.types import (
    JourneyMapType,
    RevisionChangeType,
    RevisionType,
    TouchpointType,
)
from graphql_schema.relay import decode_global_id
from graphql_schema.subscriptions.feed import Find, watch

# feedbackReceived sends at most one message a second, with what arrived meanwhile.
FEEDBACK_EVERY_SECONDS = 1.0


@strawberry.type(name="JourneyMapChange", description="One change of a journey map.")
class JourneyMapChangeType:
    action: AuditAction = strawberry.field(
        description="What was done, as the audit trail names it (STAGE_ADD, JOURNEY_MAP_DELETE...)."
    )
    version: int = strawberry.field(description="The map's version after the change.")
    map_id: strawberry.Private[UUID]

    @strawberry.field(description="The map as it is now; null once you cannot see it.")
    async def journey_map(self, info: Info) -> JourneyMapType | None:
        return await JourneyMapType.linked(info, self.map_id)

    @strawberry.field(
        description="The revision the change made (its author in createdBy); null for a "
        "change that makes none (deleting or restoring the map)."
    )
    async def revision(self, info: Info) -> RevisionType | None:
        async with info.context.read() as session:
            found = await MapRepository(session).revision(self.map_id, self.version)
        if found is None or not _made(found.action, self.action):
            return None
        return RevisionType.from_model(found)

    @strawberry.field(description="What changed from the previous version (as diff).")
    async def changes(self, info: Info) -> list[RevisionChangeType]:
        async with info.context.read() as session:
            repository = MapRepository(session)
            old = await repository.revision(self.map_id, self.version - 1)
            new = await repository.revision(self.map_id, self.version)
        if old is None or new is None or not _made(new.action, self.action):
            return []
        return [
            RevisionChangeType(path=c.path, kind=c.kind, before=JSON(c.before), after=JSON(c.after))
            for c in revisions.diff(old.snapshot, new.snapshot)
        ]


def _made(stored: str, action: AuditAction) -> bool:
    """Whether a revision (its stored action, detail and all) is this change's."""
    return RevisionAction.of(stored).value == action.value


def _action(stored: object) -> AuditAction:
    return AuditAction.of(str(stored).split(":", 1)[0])  # without a restore's detail


@strawberry.type(name="TouchpointFeedbackCount")
class TouchpointFeedbackCountType:
    count: int
    touchpoint_id: strawberry.Private[UUID]

    @strawberry.field
    async def touchpoint(self, info: Info) -> TouchpointType | None:
        return await TouchpointType.linked(info, self.touchpoint_id)


@strawberry.type(name="FeedbackReceived", description="New feedback since the last message.")
class FeedbackReceivedType:
    counts: list[TouchpointFeedbackCountType] = strawberry.field(
        description="Per touchpoint that received some (feedback placed on none is not counted)."
    )


def _id_of(global_id: str, type_name: str) -> UUID | None:
    decoded = decode_global_id(global_id)
    return decoded[1] if decoded is not None and decoded[0] == type_name else None


def _workspace(global_id: str) -> Find:
    """The workspace, if the caller reaches it (as ``Query.workspace`` decides)."""
    workspace_id = _id_of(global_id, "Workspace")

    async def find(context: Context) -> UUID | None:
        if workspace_id is None:
            return None
        found = await context.loaders.tenancy.workspace_by_id.load(workspace_id)
        return None if found is None else found.id

    return find


def _journey_map(map_id: UUID | None) -> Find:
    """The map's workspace, if the caller can read the map (as ``Query.journeyMap``)."""

    async def find(context: Context) -> UUID | None:
        if map_id is None:
            return None
        found = await context.loaders.journeys.journey_map_by_id.load(map_id)
        return None if found is None else found.workspace_id

    return find


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Each change of a journey map you can read, once it committed."
    )
    async def journey_map_changed(
        self, info: Info, id: strawberry.ID
    ) -> AsyncGenerator[JourneyMapChangeType, None]:
        map_id = _id_of(id, "JourneyMap")

        def wanted(event: LiveEvent) -> bool:
            return event.type == "journey_map.changed" and event.payload.get(
                "journey_map_id"
            ) == str(map_id)

        async for batch in watch(info.context, _journey_map(map_id), wanted):
            for event in batch:
                assert map_id is not None
                yield JourneyMapChangeType(
                    action=_action(event.payload["action"]),
                    version=int(event.payload["version"]),
                    map_id=map_id,
                )

    @strawberry.subscription(description="Each health alert raised in a workspace.")
    async def health_alert_raised(
        self, info: Info, workspace_id: strawberry.ID
    ) -> AsyncGenerator[HealthAlertType, None]:
        context = info.context
        async for batch in watch(
            context, _workspace(workspace_id), lambda e: e.type == "health.alert"
        ):
            async with context.read() as session:
                found = [
                    await alert_by_id(session, e.workspace_id, UUID(e.payload["alert_id"]))
                    for e in batch
                ]
            for alert in found:
                if alert is not None:
                    yield HealthAlertType.from_model(alert)

    @strawberry.subscription(
        description="How much feedback each touchpoint of a workspace received: at most "
        "one message a second, counting what arrived since the last."
    )
    async def feedback_received(
        self, info: Info, workspace_id: strawberry.ID
    ) -> AsyncGenerator[FeedbackReceivedType, None]:
        context = info.context
        async for batch in watch(
            context,
            _workspace(workspace_id),
            lambda e: e.type == "feedback.received",
            every=FEEDBACK_EVERY_SECONDS,
        ):
            ids = {UUID(i) for event in batch for i in event.payload.get("feedback_ids", ())}
            async with context.read() as session:
                counts = await feedback_repository.counts_by_touchpoint(
                    session, batch[0].workspace_id, ids
                )
            if counts:
                yield FeedbackReceivedType(
                    counts=[
                        TouchpointFeedbackCountType(count=n, touchpoint_id=t)
                        for t, n in sorted(counts.items(), key=lambda item: str(item[0]))
                    ]
                )
