"""What the subcommands share: located usage errors, ids from flags, migrating."""

from __future__ import annotations

import base64
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


def parse_uuid(value: str | None, flag: str, kind: str) -> UUID | None:
    """The id a flag names: a UUID, or the API's id of a ``kind`` object (what GraphQL
    shows, base64 of ``Kind:uuid``), so an id copied from either works."""
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        pass
    try:
        named, _, raw = base64.b64decode(value, validate=True).decode().partition(":")
        if named == kind:
            return UUID(raw)
    except ValueError:  # bad base64 and bad UTF-8 included
        pass
    raise fail(f"not a valid id (a UUID, or the API's id of a {kind})", field=flag)
