"""`python -m backend.entrypoints` is the `waypost` command."""

from backend.entrypoints.cli import main

main()
