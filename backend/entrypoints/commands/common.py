"""What the subcommands share: located usage errors, ids from flags, migrating."""

from __future__ import annotations

from uuid import UUID

import typer

# Service field names -> the flags a person typed, for located errors.
FLAGS = {"org": "--org", "name": "--name", "adminEmail": "--admin-email"}


def upgrade(url: str) -> None:
    # alembic (most of its templating) is a cost only the commands that migrate pay.
    from backend.entrypoints import migrate

    migrate.upgrade(url)


def fail(message: str, *, field: str | None = None) -> typer.Exit:
    """Say what was wrong (with the flag, when known) on stderr; exit 2, bad usage."""
    where = f"{FLAGS.get(field, field)}: " if field else ""
    typer.secho(f"error: {where}{message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


def parse_uuid(value: str | None, flag: str) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise fail("not a valid id (expected a UUID)", field=flag) from None
