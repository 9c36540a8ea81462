"""AuditEvent, its filter, the chain's last check, and DeadLetter."""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from backend import models
from backend.audit.repository import AuditFilter
from backend.models.audit import ActorType as ActorTypeEnum
from backend.validation import search_text
from backend.vocabulary.audit import AuditAction as AuditActionEnum
from graphql_schema.context import Info
from graphql_schema.dataloaders import Loaders
from graphql_schema.identity.types import UserType
from graphql_schema.relations import relation
from graphql_schema.relay import LoaderNode, decode_global_id

ActorType = ActorTypeEnum
strawberry.enum(ActorType, name="ActorType")
AuditAction = AuditActionEnum
strawberry.enum(
    AuditAction,
    name="AuditAction",
    description="What an event records: the stored action upper-cased, `_` for `.` "
    '(WORKSPACE_MEMBER_ADD is "workspace_member.add", the form the filter takes). UNKNOWN: '
    "one this version of the server does not know (written by a newer one, or altered "
    "since: see auditChainCheck).",
)


@strawberry.type(description="Who made a change.")
class AuditActor:
    type: ActorType
    user_id: strawberry.Private[UUID | None]
    token_id_: strawberry.Private[UUID | None]

    @strawberry.field(description="The person, when you can see them.")
    async def user(self, info: Info) -> UserType | None:
        return (await actors_users(info.context.loaders, [self]))[0]

    @strawberry.field(
        description="The token used, if one was: a global ApiToken id, or for "
        "INGESTION_TOKEN a global IngestionToken id."
    )
    def token_id(self) -> strawberry.ID | None:
        return token_global_id(self)


def token_global_id(actor: AuditActor) -> strawberry.ID | None:
    if actor.token_id_ is None:
        return None
    kind = "IngestionToken" if actor.type is ActorTypeEnum.INGESTION_TOKEN else "ApiToken"
    return strawberry.ID(str(relay.GlobalID(type_name=kind, node_id=str(actor.token_id_))))


# The batch forms of AuditActor's fields (graphql_schema/relations.py).


@relation(("AuditActor", "user"))
async def actors_users(loaders: Loaders, actors: list[AuditActor]) -> list[UserType | None]:
    return await UserType.linked_each(loaders, [a.user_id for a in actors])


@relation(("AuditActor", "tokenId"))
async def actors_tokens(_loaders: Loaders, actors: list[AuditActor]) -> list[strawberry.ID | None]:
    return [token_global_id(a) for a in actors]


@strawberry.type(name="AuditEvent", description="One link of an append-only, hash-chained trail.")
class AuditEventType:
    sequence: int
    occurred_at: datetime
    actor: AuditActor
    action: AuditAction
    subject_type: str
    subject_id: strawberry.ID = strawberry.field(description="The subject's global id.")
    changes: JSON = strawberry.field(description='{field: {"before": …, "after": …}}')
    request_id: str | None
    ip: str | None
    user_agent: str | None
    prev_hash: str
    hash: str

    @classmethod
    def from_model(cls, event: models.AuditEvent | models.AccountAuditEvent) -> Self:
        return cls(
            sequence=event.sequence,
            occurred_at=event.occurred_at,
            actor=AuditActor(
                type=event.actor_type, user_id=event.actor_user_id, token_id_=event.actor_token_id
            ),
            action=AuditAction.of(event.action),
            subject_type=event.subject_type,
            subject_id=strawberry.ID(
                str(relay.GlobalID(type_name=event.subject_type, node_id=event.subject_id))
            ),
            changes=JSON(event.changes),
            request_id=event.request_id,
            ip=event.ip,
            user_agent=event.user_agent,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )


@strawberry.input(description="All given conditions must hold.")
class AuditEventFilter:
    actor_id: strawberry.ID | None = strawberry.field(default=None, description="A User id.")
    action: str | None = strawberry.field(
        default=None,
        description='A stored action ("workspace_member.add"), or a prefix like '
        '"workspace_member".',
    )
    subject_id: strawberry.ID | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None

    def to_domain(self) -> AuditFilter | None:
        """The backend filter; None when an id cannot match anything."""
        actor = decode_global_id(self.actor_id) if self.actor_id else None
        subject = decode_global_id(self.subject_id) if self.subject_id else None
        if (self.actor_id and (actor is None or actor[0] != "User")) or (
            self.subject_id and subject is None
        ):
            return None
        return AuditFilter(
            actor_user_id=actor[1] if actor else None,
            action=search_text(self.action, field="filter.action"),
            subject_id=str(subject[1]) if subject else None,
            occurred_after=self.occurred_after,
            occurred_before=self.occurred_before,
        )


@strawberry.type(name="DeadLetter", description="A background message whose retries ran out.")
class DeadLetterType(LoaderNode):
    id: relay.NodeID[str]
    actor: str
    queue: str
    message_id: str
    args: JSON
    kwargs: JSON
    error: str
    retries: int
    failed_at: datetime
    replayed_at: datetime | None

    @classmethod
    def loader(cls, loaders: Loaders) -> DataLoader[UUID, models.DeadLetter | None]:
        return loaders.audit.dead_letter_by_id

    @classmethod
    def from_model(cls, letter: models.DeadLetter) -> Self:
        return cls(
            id=str(letter.id),
            actor=letter.actor,
            queue=letter.queue,
            message_id=letter.message_id,
            args=JSON(letter.args),
            kwargs=JSON(letter.kwargs),
            error=letter.error,
            retries=letter.retries,
            failed_at=letter.failed_at,
            replayed_at=letter.replayed_at,
        )


@strawberry.type(
    name="AuditChainCheck",
    description="The background verifier's last look at a workspace's hash chain.",
)
class AuditChainCheckType:
    checked_at: datetime
    verified_sequence: int = strawberry.field(
        description="Events 1 to this one are verified links of an unbroken chain."
    )
    ok: bool
    problem: str | None = strawberry.field(
        description="The first broken link, when not ok; it stays until an operator acts."
    )

    @classmethod
    def from_model(cls, check: models.AuditVerification) -> Self:
        return cls(
            checked_at=check.verified_at,
            verified_sequence=check.verified_sequence,
            ok=check.ok,
            problem=check.problem,
        )
