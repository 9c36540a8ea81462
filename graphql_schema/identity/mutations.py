"""Mutations: createSsoConnection, updateSsoConnection, disableSsoConnection,
claimDomain, verifyDomain, removeDomain, signOutEverywhere."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import SsoConnection
from backend.tenancy import domain_claims, sign_out, sso_connections
from backend.tenancy.commands import ChangeSsoConnection
from graphql_schema.context import Info
from graphql_schema.errors import UserError
from graphql_schema.identity.inputs import (
    ClaimDomainInput,
    CreateSsoConnectionInput,
    DisableSsoConnectionInput,
    RemoveDomainInput,
    SignOutEverywhereInput,
    UpdateSsoConnectionInput,
    VerifyDomainInput,
)
from graphql_schema.identity.types import OrganizationDomainType, SsoConnectionType
from graphql_schema.mutations import run_mutation
from graphql_schema.permissions import ORG_ADMIN, SIGNED_IN, mutation
from graphql_schema.relay import parse_id


@strawberry.type
class SsoConnectionPayload:
    sso_connection: SsoConnectionType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrganizationDomainPayload:
    domain: OrganizationDomainType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SignOutEverywherePayload:
    sessions_ended: int | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _payload(connection: SsoConnection) -> SsoConnectionPayload:
    return SsoConnectionPayload(sso_connection=SsoConnectionType.from_model(connection))


@strawberry.type
class IdentityMutations:
    @mutation(
        ORG_ADMIN,
        "Connect an OpenID provider for the organization's sign-in.",
    )
    async def create_sso_connection(
        self, info: Info, input: CreateSsoConnectionInput
    ) -> SsoConnectionPayload:
        async def action(session: AsyncSession) -> SsoConnectionPayload:
            context = info.context
            command = input.to_command()
            connection = await sso_connections.create_connection(
                session, context.access, context.settings, context.oidc, command
            )
            return _payload(connection)

        return await run_mutation(info, SsoConnectionPayload, action)

    @mutation(
        ORG_ADMIN,
        "Change an SSO connection; unset fields stay.",
    )
    async def update_sso_connection(
        self, info: Info, input: UpdateSsoConnectionInput
    ) -> SsoConnectionPayload:
        async def action(session: AsyncSession) -> SsoConnectionPayload:
            changes = input.to_command()
            return await _update(info, session, input.id, changes)

        return await run_mutation(info, SsoConnectionPayload, action)

    @mutation(
        ORG_ADMIN,
        "Switch an SSO connection off.",
    )
    async def disable_sso_connection(
        self, info: Info, input: DisableSsoConnectionInput
    ) -> SsoConnectionPayload:
        async def action(session: AsyncSession) -> SsoConnectionPayload:
            changes = ChangeSsoConnection(enabled=False)
            return await _update(info, session, input.id, changes)

        return await run_mutation(info, SsoConnectionPayload, action)

    @mutation(
        ORG_ADMIN,
        "Claim an email domain for the organization; publish the TXT record it names, "
        "then verifyDomain.",
    )
    async def claim_domain(self, info: Info, input: ClaimDomainInput) -> OrganizationDomainPayload:
        async def action(session: AsyncSession) -> OrganizationDomainPayload:
            command = input.to_command()
            claim = await domain_claims.claim_domain(session, info.context.access, command)
            return OrganizationDomainPayload(domain=OrganizationDomainType.from_model(claim))

        return await run_mutation(info, OrganizationDomainPayload, action)

    @mutation(
        ORG_ADMIN,
        "Look up a claimed domain's TXT record now. Verified, the organization's SSO and "
        "invitations reach the existing accounts at that domain (never its owner's).",
    )
    async def verify_domain(
        self, info: Info, input: VerifyDomainInput
    ) -> OrganizationDomainPayload:
        async def action(session: AsyncSession) -> OrganizationDomainPayload:
            claim = await domain_claims.verify_domain(
                session,
                info.context.access,
                info.context.settings,
                parse_id(input.id, "OrganizationDomain", field="id"),
            )
            return OrganizationDomainPayload(domain=OrganizationDomainType.from_model(claim))

        return await run_mutation(info, OrganizationDomainPayload, action)

    @mutation(
        ORG_ADMIN,
        "Give up a domain: the organization's SSO stops admitting its people.",
    )
    async def remove_domain(
        self, info: Info, input: RemoveDomainInput
    ) -> OrganizationDomainPayload:
        async def action(session: AsyncSession) -> OrganizationDomainPayload:
            claim = await domain_claims.remove_domain(
                session, info.context.access, parse_id(input.id, "OrganizationDomain", field="id")
            )
            return OrganizationDomainPayload(domain=OrganizationDomainType.from_model(claim))

        return await run_mutation(info, OrganizationDomainPayload, action)

    @mutation(
        SIGNED_IN,
        "End all your browser sessions, in every browser.",
    )
    async def sign_out_everywhere(
        self, info: Info, input: SignOutEverywhereInput
    ) -> SignOutEverywherePayload:
        async def action(session: AsyncSession) -> SignOutEverywherePayload:
            ended = await sign_out.sign_out_everywhere(
                session, info.context.access, keep_this_session=input.keep_this_session
            )
            return SignOutEverywherePayload(sessions_ended=ended)

        return await run_mutation(info, SignOutEverywherePayload, action)


async def _update(
    info: Info, session: AsyncSession, id_: str, changes: ChangeSsoConnection
) -> SsoConnectionPayload:
    connection_id = parse_id(id_, "SsoConnection", field="id")
    connection = await sso_connections.update_connection(
        session, info.context.access, info.context.settings, connection_id, changes
    )
    return _payload(connection)
