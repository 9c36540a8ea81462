"""The `waypost` command: serve, migrate, bootstrap, export-schema, dev."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from backend.entrypoints.commands import (
    audit,
    dead_letters,
    import_feedback,
    organizations,
    sentiment,
    serving,
    worker,
)
from backend.entrypoints.commands.import_feedback import IMPORT_STOPPED
from backend.entrypoints.commands.serving import SCHEMA_FILE

__all__ = ["IMPORT_STOPPED", "SCHEMA_FILE", "app", "main"]

# The subcommands live a module per job in backend/entrypoints/commands/, registered here
# in the order `waypost --help` lists them. workers/, graphql_schema/ (but for its
# package), alembic and uvicorn are imported inside the commands that need them: they
# are a quarter of the start-up of a command that needs none of them (import-feedback,
# audit), most of it alembic's templating. Keep the command modules' top-level imports
# as light.
app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.command()(serving.migrate)
app.command()(serving.serve)
app.command()(organizations.bootstrap)
app.command("export-schema")(serving.export_schema)
app.command()(organizations.demo)
app.command()(serving.dev)
app.add_typer(audit.app, name="audit")
app.command()(worker.worker)
app.add_typer(dead_letters.app, name="dead-letters")
app.command("import-feedback")(import_feedback.import_feedback)
app.command("rescore-sentiment")(sentiment.rescore_sentiment)


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
