"""Organizations from the command line: bootstrap a real one, seed the demo agency, keep
`make run`'s token."""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import func, select

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.auth.service import find_live_token
from backend.auth.tokens import presenting
from backend.db.engine import Database, database_from_settings
from backend.db.scoping import NO_TENANT, widen_to_organization
from backend.db.types import utcnow
from backend.entrypoints.commands.common import fail, upgrade
from backend.errors import DomainError
from backend.models import Organization, OrganizationMembership, User
from backend.settings import DEFAULT_DATA_DIR, Settings, get_settings
from backend.tenancy import service
from backend.tenancy.service import IssuedToken
from backend.vocabulary.roles import OrganizationKind

DEMO_ORG = "demo"
# Where `make run` keeps its token between starts: beside the embedded database, in the
# data directory git ignores. The database holds only the token's hash.
DEMO_TOKEN_FILE = DEFAULT_DATA_DIR / "demo-token"
DEMO_TOKEN_LIFETIME = timedelta(days=30)
RENEW_WITHIN = timedelta(days=1)


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


@dataclass(frozen=True)
class DemoToken:
    """What `make run` says of its token: the secret, its end, and whether it is the last
    start's."""

    plaintext: str
    expires_at: datetime | None
    reused: bool


def demo_token(settings: Settings, keep_in: Path = DEMO_TOKEN_FILE) -> DemoToken:
    """The token `make run` prints: the one kept in ``keep_in`` while the database still
    honours it, else a new one for the first organization's owner (the demo agency,
    seeded when the database is empty), kept there for the next start."""
    kept = keep_in.read_text().strip() if keep_in.exists() else ""
    token = asyncio.run(_live_or_new(settings, kept))
    if not token.reused:
        _keep(keep_in, token.plaintext)
    return token


async def _live_or_new(settings: Settings, kept: str) -> DemoToken:
    db = database_from_settings(settings)
    try:
        # Looked up as a request would, a day ahead: a token about to expire would stop
        # working in the middle of someone's afternoon.
        async with db.connection(presenting(kept)) as connection:
            live = await find_live_token(connection, kept, utcnow() + RENEW_WITHIN)
        if live is not None:
            return DemoToken(kept, live.expires_at, reused=True)
        issued = await _issue_demo_token(db)
        return DemoToken(issued.plaintext, issued.token.expires_at, reused=False)
    finally:
        await db.dispose()


async def _issue_demo_token(db: Database) -> IssuedToken:
    """A token for the first organization's owner, seeding the demo agency when there is
    no organization; it expires, as one sitting in a file should."""
    async with db.transaction(NO_TENANT) as session:
        empty = not await session.scalar(select(func.count()).select_from(Organization))
    if empty:
        from backend.entrypoints import demo as seeder

        typer.echo("seeding the demo agency (about half a minute, once)", err=True)
        # The seed's own token (its owner's bootstrap token) never expires, so it is not
        # the one handed out: the one below is.
        await seeder.seed_demo(db, progress=lambda step: typer.echo(f"  demo: {step}", err=True))
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
        return await service.issue_token(
            session, owner.id, name="make run", expires_at=utcnow() + DEMO_TOKEN_LIFETIME
        )


def _keep(path: Path, plaintext: str) -> None:
    """Write the token readable by its owner only (mkstemp makes the file 0600), and
    whole: a new file renamed over the old one, whatever mode the old one had."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, written = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as file:
        file.write(plaintext + "\n")
    os.replace(written, path)
