"""`waypost import-feedback`: feedback from a CSV or NDJSON file, resumably (the
importer is backend.feedback.importer; this is its progress bar, summary and exit codes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from backend.db.engine import database_from_settings
from backend.entrypoints.commands.common import fail, parse_uuid
from backend.errors import DomainError
from backend.feedback import importer
from backend.settings import Settings, get_settings

# import-feedback's exit code when it stops on an unexpected error (a database gone, a
# bug): unlike 1, rows rejected, it says the file was not gone through.
IMPORT_STOPPED = 3


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

    workspace_id = parse_uuid(workspace, "--workspace", "Workspace")
    assert workspace_id is not None  # the option is required
    try:
        source = importer.InputFile.open(file)
    except DomainError as error:
        raise fail(error.message, field=error.field) from None
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
        raise fail(error.message, field=flag) from None
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
    for waiting in report.unplaced:
        typer.echo(str(waiting), err=True)
    where = " (the rejected lines are listed on stderr)" if report.errors else ""
    if not report.kept:
        typer.echo(f"all or nothing: rejected {report.rejected}, nothing written{where}")
    else:
        typer.echo(report.placement_summary())
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
