"""Mutations: createInvitation, revokeInvitation, removeWorkspaceMember,
removeOrganizationMember."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.tenancy import invitations, members
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.mutations import run_mutation
from graphql_schema.permissions import GUEST_INVITER, ORG_ADMIN, WORKSPACE_ADMIN, mutation
from graphql_schema.relay import parse_id
from graphql_schema.tenancy.inputs import (
    CreateInvitationInput,
    RemoveOrganizationMemberInput,
    RemoveWorkspaceMemberInput,
    RevokeInvitationInput,
)
from graphql_schema.tenancy.types import InvitationType


@strawberry.type
class CreateInvitationPayload:
    invitation: InvitationType | None = None
    accept_url: str | None = strawberry.field(
        default=None, description="The one-time link to send. Shown this once."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeInvitationPayload:
    invitation: InvitationType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RemoveMemberPayload:
    removed_user_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MembershipMutations:
    @mutation(
        GUEST_INVITER,
        "Invite someone by one-time link: into the organization, or as a guest into a workspace.",
    )
    async def create_invitation(
        self, info: Info, input: CreateInvitationInput
    ) -> CreateInvitationPayload:
        async def action(session: AsyncSession) -> CreateInvitationPayload:
            command = input.to_command()
            issued = await invitations.create_invitation(session, info.context.access, command)
            base = info.context.settings.base_url.rstrip("/")
            return CreateInvitationPayload(
                invitation=InvitationType.from_model(issued.invitation),
                accept_url=base + invitations.accept_path(issued.secret),
            )

        return await run_mutation(info, CreateInvitationPayload, action)

    @mutation(
        GUEST_INVITER,
        "Withdraw an invitation that was not used yet.",
    )
    async def revoke_invitation(
        self, info: Info, input: RevokeInvitationInput
    ) -> RevokeInvitationPayload:
        async def action(session: AsyncSession) -> RevokeInvitationPayload:
            invitation = await invitations.revoke_invitation(
                session, info.context.access, parse_id(input.id, "Invitation", field="id")
            )
            return RevokeInvitationPayload(invitation=InvitationType.from_model(invitation))

        return await run_mutation(info, RevokeInvitationPayload, action)

    @mutation(
        WORKSPACE_ADMIN,
        "Take someone out of a workspace; their tokens for it "
        "are revoked, and their sessions too if nothing else of the organization is left.",
    )
    async def remove_workspace_member(
        self, info: Info, input: RemoveWorkspaceMemberInput
    ) -> RemoveMemberPayload:
        async def action(session: AsyncSession) -> RemoveMemberPayload:
            command = input.to_command()
            await members.remove_workspace_member(session, info.context.access, command)
            return RemoveMemberPayload(removed_user_id=input.user_id)

        return await run_mutation(info, RemoveMemberPayload, action)

    @mutation(
        ORG_ADMIN,
        "Take someone out of the organization and all its workspaces; "
        "their sessions and tokens for it are revoked.",
    )
    async def remove_organization_member(
        self, info: Info, input: RemoveOrganizationMemberInput
    ) -> RemoveMemberPayload:
        async def action(session: AsyncSession) -> RemoveMemberPayload:
            command = input.to_command()
            await members.remove_organization_member(session, info.context.access, command)
            return RemoveMemberPayload(removed_user_id=input.user_id)

        return await run_mutation(info, RemoveMemberPayload, action)
