"""`python -m backend` is the `waypost` command."""

from backend.cli import main

main()
