"""Running the API: migrate, serve, dev (all three for `make run`), export-schema."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Annotated

import typer

import graphql_schema
from backend.entrypoints.commands.common import upgrade
from backend.entrypoints.commands.organizations import DEMO_TOKEN_FILE, demo_token
from backend.settings import get_settings

SCHEMA_FILE = Path(graphql_schema.__file__).resolve().parent / "schema.graphql"


def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    settings = get_settings()
    upgrade(settings.owner_database_url)
    typer.echo("database is up to date")


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


def dev(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
) -> None:
    """Migrate, seed a demo organization if the database is empty, print a token (the last
    start's, while it works), serve."""
    settings = get_settings()
    upgrade(settings.owner_database_url)
    token = demo_token(settings)
    base = f"http://{host}:{port}"
    when = token.expires_at
    expires = f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if when else "never"
    typer.secho(
        f"\n  GraphiQL:  {base}/graphql\n"
        f"  Token:     {token.plaintext}\n"
        f"             {'reused' if token.reused else 'new'}, kept in {DEMO_TOKEN_FILE}, "
        f"expires {expires}\n"
        f"  Try:       curl -s {base}/graphql -H 'Authorization: Bearer {token.plaintext}' "
        "-H 'Content-Type: application/json' "
        """-d '{"query":"{ viewer { user { email } } }"}'\n""",
        fg=typer.colors.GREEN,
    )
    serve(host=host, port=port, workers=1)
