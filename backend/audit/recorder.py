"""Recording audit events: one per successful mutation, in the mutation's transaction.

The transaction boundary binds the actor (``bind_actor``); services call
``record`` once with what they changed; the boundary checks the count
(``recorded_count``) before committing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.actor import Actor
from backend.audit.chain import GENESIS, SEAL_ACTION, event_hash, to_json_value
from backend.audit.heads import locked_head
from backend.crypto.audit_keys import keyring_of
from backend.db.types import utcnow
from backend.models.audit import AccountAuditEvent, AuditEvent, AuditScope
from backend.vocabulary.audit import AuditAction

_ACTOR = "audit_actor"
_COUNT = "audit_recorded"


def bind_actor(session: AsyncSession, actor: Actor) -> None:
    session.info[_ACTOR] = actor
    session.info[_COUNT] = 0


def recorded_count(session: AsyncSession) -> int:
    return int(session.info.get(_COUNT, 0))


def _actor(session: AsyncSession) -> Actor:
    actor = session.info.get(_ACTOR)
    if not isinstance(actor, Actor):
        raise RuntimeError("no actor bound: changes must go through a transaction boundary")
    return actor


async def record(
    session: AsyncSession,
    *,
    action: AuditAction,
    subject_type: str,
    subject_id: UUID | str,
    changes: dict[str, Any],
    workspace_id: UUID | None = None,
    organization_id: UUID | None = None,
    user_id: UUID | None = None,
) -> AuditEvent | AccountAuditEvent:
    """Append one event to the chain of exactly one scope."""
    scopes = [
        (scope, scope_id)
        for scope, scope_id in (
            (AuditScope.WORKSPACE, workspace_id),
            (AuditScope.ORGANIZATION, organization_id),
            (AuditScope.USER, user_id),
        )
        if scope_id is not None
    ]
    if len(scopes) != 1:
        raise ValueError("an audit event belongs to exactly one scope")
    if action == AuditAction.AUDIT_CHAIN_SEAL:
        raise ValueError(f"{SEAL_ACTION} vouches for unkeyed events: only the upgrade writes it")
    if action == AuditAction.UNKNOWN:
        raise ValueError("UNKNOWN is for reading stored actions, never for writing one")
    scope, scope_id = scopes[0]
    actor = _actor(session)
    key = keyring_of(session.sync_session).current
    head = await locked_head(session, scope, scope_id)
    fields: dict[str, Any] = {
        "sequence": head.audit_sequence + 1,
        "occurred_at": utcnow(),
        "actor_type": actor.type,
        "actor_user_id": actor.user_id,
        "actor_token_id": actor.token_id,
        "action": str(action),  # the text stored and hashed, not the enum
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "changes": to_json_value(changes, finite=True),  # hashed as it is read back
        "request_id": actor.request_id,
        "ip": actor.ip,
        "user_agent": (actor.user_agent or "")[:400] or None,
        "prev_hash": head.audit_hash or GENESIS,
        "hash": "",
        "key_id": key.id,
    }
    event: AuditEvent | AccountAuditEvent
    if scope is AuditScope.WORKSPACE:
        event = AuditEvent(workspace_id=scope_id, **fields)
    else:
        event = AccountAuditEvent(scope=scope, scope_id=scope_id, **fields)
    event.hash = event_hash(scope, scope_id, event, key)
    head.audit_sequence = event.sequence
    head.audit_hash = event.hash
    session.add(event)
    session.info[_COUNT] = recorded_count(session) + 1
    return event
