"""The `waypost` command: serve, migrate, bootstrap, export-schema, dev."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy import func, select

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.authz.roles import OrganizationKind
from backend.db.engine import database_from_settings
from backend.db.migrate import upgrade
from backend.db.scoping import NO_TENANT
from backend.errors import DomainError
from backend.models import Organization, OrganizationMembership, User
from backend.settings import Settings, get_settings
from backend.tenancy import service

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "graphql_schema" / "schema.graphql"
DEMO_ORG = "demo"
DEMO_ADMIN = "admin@demo.example"

# Service field names -> the flags a person typed, for located errors.
_FLAGS = {"org": "--org", "name": "--name", "adminEmail": "--admin-email"}


def _fail(message: str, *, field: str | None = None) -> typer.Exit:
    where = f"{_FLAGS.get(field, field)}: " if field else ""
    typer.secho(f"error: {where}{message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    settings = get_settings()
    upgrade(settings.owner_database_url)
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the API (GraphQL at /graphql, /healthz, /readyz)."""
    get_settings()  # refuse unsafe production settings before binding a port
    uvicorn.run(
        "backend.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


@app.command()
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
        raise _fail(error.message, field=error.field) from None
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


@app.command("export-schema")
def export_schema(
    output: Annotated[Path, typer.Option(help="Where to write the SDL.")] = SCHEMA_FILE,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if the file is out of date; write nothing.")
    ] = False,
) -> None:
    """Write the GraphQL schema (SDL) to graphql_schema/schema.graphql."""
    from graphql_schema.schema import schema_sdl

    sdl = schema_sdl()
    if check:
        current = output.read_text() if output.exists() else ""
        if current != sdl:
            typer.echo(f"{output} is out of date: run `waypost export-schema`", err=True)
            raise typer.Exit(code=1)
        return
    output.write_text(sdl)
    typer.echo(f"wrote {output}")


@app.command()
def dev(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Migrate, seed a demo organization if the database is empty, print a token, serve."""
    settings = get_settings()
    upgrade(settings.owner_database_url)
    token = asyncio.run(_demo_token(settings))
    base = f"http://{host}:{port}"
    typer.secho(
        f"\n  GraphiQL:  {base}/graphql\n"
        f"  Token:     {token}\n"
        f"  Try:       curl -s {base}/graphql -H 'Authorization: Bearer {token}' "
        "-H 'Content-Type: application/json' "
        """-d '{"query":"{ viewer { user { email } } }"}'\n""",
        fg=typer.colors.GREEN,
    )
    serve(host=host, port=port, workers=1)


async def _demo_token(settings: Settings) -> str:
    """Seed the demo organization when the database is empty; a fresh token for its owner."""
    db = database_from_settings(settings)
    try:
        async with db.transaction(NO_TENANT, write=True) as session:
            bind_actor(session, Actor.system())
            if not await session.scalar(select(func.count()).select_from(Organization)):
                seeded = await service.bootstrap_organization(
                    session,
                    org_slug=DEMO_ORG,
                    name="Demo Agency",
                    kind=OrganizationKind.AGENCY,
                    admin_email=DEMO_ADMIN,
                )
                return seeded.token.plaintext
            owner = await session.scalar(
                select(User)
                .join(OrganizationMembership, OrganizationMembership.user_id == User.id)
                .order_by(OrganizationMembership.created_at)
                .limit(1)
            )
            if owner is None:
                raise _fail("the database has organizations but no members")
            issued = await service.issue_token(session, owner.id, name="make run")
            return issued.plaintext
    finally:
        await db.dispose()


def main() -> None:
    try:
        app()
    except ValidationError as error:
        # Bad settings: say which variable and why, without a traceback.
        for problem in error.errors():
            where = "".join(f"WAYPOST_{p}".upper() for p in problem["loc"]) or "settings"
            message = str(problem.get("ctx", {}).get("error", problem["msg"]))
            typer.secho(f"error: {where}: {message}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
