"""`waypost dead-letters`: send messages whose retries ran out to their actors again."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

import typer

from backend.db.engine import database_from_settings
from backend.entrypoints.commands.common import fail, parse_uuid
from backend.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True, help="Messages whose retries ran out.")


@app.command("replay")
def dead_letters_replay(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace's.")] = None,
    id: Annotated[str | None, typer.Option("--id", help="Only this dead letter.")] = None,
) -> None:
    """Send dead letters to their actors again (once each); print how many."""
    settings = get_settings()
    from workers.broker import is_in_process

    if is_in_process(settings.broker_url):
        raise fail("replay needs a shared broker (redis:// or amqp://), not the in-process one")
    count = asyncio.run(
        _replay(
            settings,
            parse_uuid(workspace, "--workspace", "Workspace"),
            parse_uuid(id, "--id", "DeadLetter"),
        )
    )
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
