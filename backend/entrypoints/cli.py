"""The `waypost` command: serve, migrate, bootstrap, export-schema, dev."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from pydantic import ValidationError
from sqlalchemy import func, select

import graphql_schema
from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.audit.reports import all_chains, export_chain, verify_chains
from backend.db.engine import database_from_settings
from backend.db.scoping import NO_TENANT, widen_to_organization
from backend.errors import DomainError
from backend.feedback import importer
from backend.models import Organization, OrganizationMembership, User
from backend.models.audit import AuditScope
from backend.settings import Settings, get_settings
from backend.tenancy import service
from backend.vocabulary.roles import OrganizationKind

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

SCHEMA_FILE = Path(graphql_schema.__file__).resolve().parent / "schema.graphql"
DEMO_ORG = "demo"
DEMO_ADMIN = "admin@demo.example"

# Service field names -> the flags a person typed, for located errors.
_FLAGS = {"org": "--org", "name": "--name", "adminEmail": "--admin-email"}
# workers/, graphql_schema/, alembic and uvicorn are imported inside the commands that
# need them: they are a quarter of the start-up of a command that needs none of them
# (import-feedback, audit), most of it alembic's templating.


def upgrade(url: str) -> None:
    from backend.entrypoints import migrate

    migrate.upgrade(url)


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
    access_log: Annotated[
        bool, typer.Option(help="Log every request (off where a proxy logs them already).")
    ] = True,
) -> None:
    """Serve the API (GraphQL at /graphql, /healthz, /readyz)."""
    import uvicorn

    from backend.edge.body_limit import GRAPHQL_MAX_BYTES

    get_settings()  # refuse unsafe production settings before binding a port
    uvicorn.run(
        "backend.entrypoints.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # The app believes X-Forwarded-* from WAYPOST_TRUSTED_PROXIES only; uvicorn's
        # own handling would trust any peer in FORWARDED_ALLOW_IPS (127.0.0.1 unset).
        proxy_headers=False,
        ws_max_size=GRAPHQL_MAX_BYTES,  # a WebSocket message is capped like a request
        log_level="info",
        access_log=access_log,
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
def demo() -> None:
    """Seed a demo agency: two client workspaces, maps, 12,000 feedback items, initiatives,
    metrics and a quarter of health history. Prints a token for its owner."""
    settings = get_settings()
    upgrade(settings.owner_database_url)
    token = asyncio.run(_demo(settings))
    if token is None:
        raise _fail(f"the demo organization {DEMO_ORG!r} exists already")
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
                raise _fail("the database has organizations but no members")
            issued = await service.issue_token(session, owner.id, name="make run")
            return issued.plaintext
    finally:
        await db.dispose()


audit_app = typer.Typer(no_args_is_help=True, help="Read and check the audit trail.")
app.add_typer(audit_app, name="audit")


def _uuid(value: str | None, flag: str) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise _fail("not a valid id (expected a UUID)", field=flag) from None


@audit_app.command("verify")
def audit_verify(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace's chain.")] = None,
    organization: Annotated[
        str | None, typer.Option(help="Only this organization's chain.")
    ] = None,
) -> None:
    """Check every audit chain (or one); print the first broken link; exit 1 if any."""
    workspace_id = _uuid(workspace, "--workspace")
    organization_id = _uuid(organization, "--organization")
    broken = asyncio.run(_audit_verify(get_settings(), workspace_id, organization_id))
    raise typer.Exit(code=1 if broken else 0)


async def _audit_verify(
    settings: Settings, workspace_id: UUID | None, organization_id: UUID | None
) -> int:
    db = database_from_settings(settings)
    try:
        chains = await all_chains(db)
        if workspace_id or organization_id:
            # Only the chains asked for; one with no events yet verifies as empty.
            chains = [
                (scope, scope_id)
                for scope, scope_id in (
                    (AuditScope.WORKSPACE, workspace_id),
                    (AuditScope.ORGANIZATION, organization_id),
                )
                if scope_id is not None
            ]
        broken = 0
        async for report in verify_chains(db, chains):
            name = f"{report.scope.lower()} {report.scope_id}"
            if report.ok:
                typer.echo(f"ok      {name}: {report.checked} events")
            else:
                broken += 1
                typer.secho(
                    f"BROKEN  {name}: at event {report.broken_at}: {report.problem}",
                    fg=typer.colors.RED,
                )
        typer.echo(f"{len(chains)} chains checked, {broken} broken")
        return broken
    finally:
        await db.dispose()


@audit_app.command("export")
def audit_export(
    workspace: Annotated[str | None, typer.Option(help="A workspace's chain.")] = None,
    organization: Annotated[str | None, typer.Option(help="An organization's chain.")] = None,
    output: Annotated[Path | None, typer.Option(help="File to write; default stdout.")] = None,
) -> None:
    """Write one chain's events as NDJSON, oldest first."""
    targets = [
        (scope, scope_id)
        for scope, scope_id in (
            (AuditScope.WORKSPACE, _uuid(workspace, "--workspace")),
            (AuditScope.ORGANIZATION, _uuid(organization, "--organization")),
        )
        if scope_id is not None
    ]
    if len(targets) != 1:
        raise _fail("give exactly one of --workspace or --organization")
    scope, scope_id = targets[0]
    asyncio.run(_audit_export(get_settings(), scope, scope_id, output))


async def _audit_export(
    settings: Settings, scope: AuditScope, scope_id: UUID, output: Path | None
) -> None:
    db = database_from_settings(settings)
    try:
        with output.open("w") if output else contextlib.nullcontext(sys.stdout) as sink:
            async for line in export_chain(db, scope, scope_id):
                sink.write(line + "\n")
    finally:
        await db.dispose()


@app.command()
def worker() -> None:
    """Run background workers (and the outbox relay) for a Redis or RabbitMQ broker."""
    settings = get_settings()
    from workers.broker import is_in_process

    if is_in_process(settings.broker_url):
        raise _fail(
            "the in-process broker is worked inside `waypost serve`; set "
            "WAYPOST_BROKER_URL to redis://… or amqp://… to run separate workers"
        )
    asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    from workers.background import Background

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    db = database_from_settings(settings)
    try:
        async with Background(settings, db, run_workers=True):
            # As the API does after start-up (backend/entrypoints/app.py): what is loaded by now
            # lives as long as the process, and full collections need not scan it.
            gc.freeze()
            typer.echo(f"worker running on {settings.broker_url.split('@')[-1]}; Ctrl-C stops")
            await stop.wait()
    finally:
        await db.dispose()


dead_letters_app = typer.Typer(no_args_is_help=True, help="Messages whose retries ran out.")
app.add_typer(dead_letters_app, name="dead-letters")


@dead_letters_app.command("replay")
def dead_letters_replay(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace's.")] = None,
    id: Annotated[str | None, typer.Option("--id", help="Only this dead letter.")] = None,
) -> None:
    """Send dead letters to their actors again (once each); print how many."""
    settings = get_settings()
    from workers.broker import is_in_process

    if is_in_process(settings.broker_url):
        raise _fail("replay needs a shared broker (redis:// or amqp://), not the in-process one")
    count = asyncio.run(_replay(settings, _uuid(workspace, "--workspace"), _uuid(id, "--id")))
    typer.echo(f"replayed {count} dead letters")


async def _replay(settings: Settings, workspace_id: UUID | None, letter_id: UUID | None) -> int:
    from workers.replay import replay_dead_letters

    db = database_from_settings(settings)
    try:
        return await replay_dead_letters(
            settings, db, workspace_id=workspace_id, letter_id=letter_id
        )
    finally:
        await db.dispose()


# import-feedback's exit code when it stops on an unexpected error (a database gone, a
# bug): unlike 1, rows rejected, it says the file was not gone through.
IMPORT_STOPPED = 3


@app.command("import-feedback")
def import_feedback(
    file: Annotated[Path, typer.Argument(help="A .csv, .ndjson or .jsonl file of feedback items.")],
    workspace: Annotated[str, typer.Option(help="The id of the workspace to import into.")],
    all_or_nothing: Annotated[
        bool, typer.Option("--all-or-nothing", help="Write nothing if any row is bad.")
    ] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Start at line 1 even if a checkpoint says where.")
    ] = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="No progress bar (the summary still prints).")
    ] = False,
) -> None:
    """Import feedback from a CSV or NDJSON file, 2,500 rows a transaction, resumably.

    Exit 0: every row is in; 1: some rows rejected (listed); 2: bad usage; 3: the import
    stopped on an unexpected error (rerun to resume).
    See docs/import-feedback.md.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    workspace_id = _uuid(workspace, "--workspace")
    assert workspace_id is not None  # the option is required
    try:
        source = importer.InputFile.open(file)
    except DomainError as error:
        raise _fail(error.message, field=error.field) from None
    console = Console(stderr=True, soft_wrap=True, highlight=False)
    bar = Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        "lines",
        TimeRemainingColumn(),
        console=console,
        disable=no_progress or not console.is_terminal,
    )
    task = bar.add_task(source.path.name, total=source.lines)
    try:
        with bar:
            report = asyncio.run(
                _import_feedback(
                    get_settings(),
                    source,
                    workspace_id,
                    all_or_nothing=all_or_nothing,
                    restart=restart,
                    notify=lambda message: console.print(message, markup=False),
                    progress=lambda line: bar.update(task, completed=line),
                )
            )
    except DomainError as error:
        flag = "--workspace" if error.field == "workspaceId" else error.field
        raise _fail(error.message, field=flag) from None
    except KeyboardInterrupt:
        typer.echo("interrupted: run the same command again to resume", err=True)
        raise typer.Exit(code=130) from None
    except Exception as error:
        # Anything else stops the import: said in one line, and told from rejected rows.
        what = next(iter(str(error).splitlines()), "")  # SQLAlchemy's go on with the SQL
        typer.secho(
            f"error: the import stopped: {type(error).__name__}: {what}. What was committed "
            "stays; run the same command again to resume once this is fixed.",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(code=IMPORT_STOPPED) from None
    for problem in report.errors:
        typer.echo(str(problem), err=True)
    where = " (the rejected lines are listed on stderr)" if report.errors else ""
    if not report.kept:
        typer.echo(f"all or nothing: rejected {report.rejected}, nothing written{where}")
    else:
        typer.echo(
            f"accepted {report.accepted}, duplicates {report.duplicates}, "
            f"rejected {report.rejected}{where}"
        )
    raise typer.Exit(code=1 if report.rejected else 0)


async def _import_feedback(
    settings: Settings,
    source: importer.InputFile,
    workspace_id: UUID,
    *,
    all_or_nothing: bool,
    restart: bool,
    notify: Callable[[str], None],
    progress: Callable[[int], None],
) -> importer.Report:
    db = database_from_settings(settings)
    try:
        return await importer.import_file(
            db,
            source,
            workspace_id,
            all_or_nothing=all_or_nothing,
            restart=restart,
            notify=notify,
            progress=progress,
        )
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
