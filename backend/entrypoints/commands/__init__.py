"""The `waypost` command's subcommands, a module per job; backend/entrypoints/cli.py
assembles them into the typer app."""
