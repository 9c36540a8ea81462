"""Organizations from the command line: bootstrap a real one, seed the demo agency."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from sqlalchemy import func, select

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import database_from_settings
from backend.db.scoping import NO_TENANT, widen_to_organization
from backend.entrypoints.commands.common import fail, upgrade
from backend.errors import DomainError
from backend.models import Organization, OrganizationMembership, User
from backend.settings import Settings, get_settings
from backend.tenancy import service
from backend.vocabulary.roles import OrganizationKind

DEMO_ORG = "demo"


def bootstrap(
    org: Annotated[str, typer.Option(help="Organization slug, e.g. acme.")],
    name: Annotated[str, typer.Option(help="Organization display name.")],
    kind: Annotated[OrganizationKind, typer.Option(case_sensitive=False)],
    admin_email: Annotated[str, typer.Option(help="Email of the first owner.")],
) -> None:
    """Create an organization with its owner and first workspace; print an API token."""
    try:
        token = asyncio.run(_bootstrap(get_settings(), org, name, kind, admin_email))
    except DomainError as error:
        raise fail(error.message, field=error.field) from None
    typer.echo(token)


async def _bootstrap(
    settings: Settings, org: str, name: str, kind: OrganizationKind, admin_email: str
) -> str:
    db = database_from_settings(settings)
    try:
        async with db.transaction(NO_TENANT, write=True) as session:
            bind_actor(session, Actor.system())
            result = await service.bootstrap_organization(
                session, org_slug=org, name=name, kind=kind, admin_email=admin_email
            )
        return result.token.plaintext
    finally:
        await db.dispose()


def demo() -> None:
    """Seed a demo agency: two client workspaces, maps, 12,000 feedback items, initiatives,
    metrics and a quarter of health history. Prints a token for its owner."""
    settings = get_settings()
    upgrade(settings.owner_database_url)
    token = asyncio.run(_demo(settings))
    if token is None:
        raise fail(f"the demo organization {DEMO_ORG!r} exists already")
    typer.echo(token)


async def _demo(settings: Settings) -> str | None:
    from backend.entrypoints import demo as seeder

    db = database_from_settings(settings)
    try:
        if await seeder.seeded(db):
            return None
        return await seeder.seed_demo(
            db, progress=lambda step: typer.echo(f"  demo: {step}", err=True)
        )
    finally:
        await db.dispose()


async def demo_token(settings: Settings) -> str:
    """Seed the demo organization when the database is empty; a fresh token for its owner."""
    db = database_from_settings(settings)
    try:
        async with db.transaction(NO_TENANT) as session:
            empty = not await session.scalar(select(func.count()).select_from(Organization))
        if empty:
            from backend.entrypoints import demo as seeder

            typer.echo("seeding the demo agency (about half a minute, once)", err=True)
            return await seeder.seed_demo(
                db, progress=lambda step: typer.echo(f"  demo: {step}", err=True)
            )
        async with db.transaction(NO_TENANT, write=True) as session:
            bind_actor(session, Actor.system())
            first = await session.scalar(
                select(Organization.id).order_by(Organization.created_at).limit(1)
            )
            assert first is not None
            await widen_to_organization(session, first)  # its members are its rows
            owner = await session.scalar(
                select(User)
                .join(OrganizationMembership, OrganizationMembership.user_id == User.id)
                .order_by(OrganizationMembership.created_at)
                .limit(1)
            )
            if owner is None:
                raise fail("the database has organizations but no members")
            issued = await service.issue_token(session, owner.id, name="make run")
            return issued.plaintext
    finally:
        await db.dispose()
