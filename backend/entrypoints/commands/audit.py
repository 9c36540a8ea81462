"""`waypost audit`: verify the audit chains, export one as NDJSON."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from backend.audit.reports import all_chains, export_chain, verify_chains
from backend.db.engine import database_from_settings
from backend.entrypoints.commands.common import fail, parse_uuid
from backend.models.audit import AuditScope
from backend.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True, help="Read and check the audit trail.")


@app.command("verify")
def audit_verify(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace's chain.")] = None,
    organization: Annotated[
        str | None, typer.Option(help="Only this organization's chain.")
    ] = None,
) -> None:
    """Check every audit chain (or one); print the first broken link; exit 1 if any."""
    workspace_id = parse_uuid(workspace, "--workspace", "Workspace")
    organization_id = parse_uuid(organization, "--organization", "Organization")
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


@app.command("export")
def audit_export(
    workspace: Annotated[str | None, typer.Option(help="A workspace's chain.")] = None,
    organization: Annotated[str | None, typer.Option(help="An organization's chain.")] = None,
    output: Annotated[Path | None, typer.Option(help="File to write; default stdout.")] = None,
) -> None:
    """Write one chain's events as NDJSON, oldest first."""
    targets = [
        (scope, scope_id)
        for scope, scope_id in (
            (AuditScope.WORKSPACE, parse_uuid(workspace, "--workspace", "Workspace")),
            (AuditScope.ORGANIZATION, parse_uuid(organization, "--organization", "Organization")),
        )
        if scope_id is not None
    ]
    if len(targets) != 1:
        raise fail("give exactly one of --workspace or --organization")
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
