"""Spending an invitation link in a browser: the account, its roles, and a session."""

from __future__ import annotations

from uuid import UUID

from backend.audit import recorder as audit
from backend.audit.actor import Actor
from backend.auth.sessions import open_session
from backend.auth.sign_in import Client, SignedIn, client_actor
from backend.auth.tokens import presenting
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.settings import Settings
from backend.tenancy.invitations import accept, usable_invitation


async def sign_in_by_invitation(
    db: Database, settings: Settings, secret: str, client: Client, *, signed_in_as: UUID | None
) -> SignedIn:
    """Spend an invitation link: the person's account and roles, and a session that acts
    in the inviting organization only.

    ``signed_in_as`` is the account this browser is signed in as, if any: the only way
    an invitation reaches an existing account its organization does not manage.

    It is the entry point's whole work (an HTTP route, no GraphQL) and owns its two
    transactions: the write's binding (the invited workspace) is known only once the
    link has been read.
    """
    async with db.transaction(presenting(secret)) as session:
        invitation, _organization = await usable_invitation(session, secret)
        workspace_id = invitation.target_workspace_id
    # Bound to the invited workspace, so row-level security lets its membership in.
    binding = TenantBinding(
        frozenset({workspace_id}) if workspace_id else frozenset(),
        organization_ids=frozenset({invitation.organization_id}),
        secret_hash=presenting(secret).secret_hash,
    )
    async with db.transaction(binding, write=True) as session:
        invitation, _organization = await usable_invitation(session, secret)
        actor = client_actor(signed_in_as, client) if signed_in_as else Actor.system()
        audit.bind_actor(session, actor)
        user, created = await accept(session, invitation, signed_in_as=signed_in_as)
        opened = await open_session(
            session,
            settings,
            user_id=user.id,
            organization_id=invitation.organization_id,
            ip=client.ip,
            user_agent=client.user_agent,
        )
    return SignedIn(user.id, opened, "/", provisioned=created)
