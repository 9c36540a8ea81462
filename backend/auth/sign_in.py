"""A browser signing in and out: where it came from, what it got, why it was refused."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from backend.audit import recorder as audit
from backend.audit.actor import Actor
from backend.audit.chain import changes_of
from backend.auth.sessions import NewSession, end_sessions
from backend.auth.subject import BrowserSession
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.models.audit import ActorType
from backend.vocabulary.audit import AuditAction


class SignInRefused(Exception):
    def __init__(self, reason: str, *, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class SignedIn:
    user_id: UUID
    session: NewSession
    return_to: str
    provisioned: bool


@dataclass(frozen=True)
class Client:
    """Where the request came from, for the audit trail and the session list."""

    ip: str | None
    user_agent: str | None
    request_id: str | None


async def sign_out(db: Database, subject: BrowserSession, client: Client) -> None:
    """End the caller's session (this browser only).

    The route that calls it is its own entry point (a plain POST, no GraphQL), so this
    owns its one write transaction.
    """
    async with db.transaction(TenantBinding(account_id=subject.user_id), write=True) as session:
        audit.bind_actor(session, client_actor(subject.user_id, client))
        if await end_sessions(session, user_id=subject.user_id, session_id=subject.session_id):
            await audit.record(
                session,
                user_id=subject.user_id,
                action=AuditAction.SESSION_SIGN_OUT,
                subject_type="UserSession",
                subject_id=subject.session_id,
                changes=changes_of({"ended": False}, {"ended": True}),
            )


def client_actor(user_id: UUID, client: Client) -> Actor:
    """The signed-in person, from this browser, as the audit trail names them."""
    return Actor(
        ActorType.USER,
        user_id=user_id,
        request_id=client.request_id,
        ip=client.ip,
        user_agent=client.user_agent,
    )
