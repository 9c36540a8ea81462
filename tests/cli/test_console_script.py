"""The installed `waypost` console script (pyproject's [project.scripts]) starts and works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = ("serve", "migrate", "bootstrap", "export-schema", "worker", "audit", "dead-letters")


@pytest.fixture(scope="module")
def waypost() -> str:
    """The script installed next to this interpreter, not whatever is first on PATH."""
    found = shutil.which("waypost", path=str(Path(sys.executable).parent))
    assert found is not None, f"no waypost console script next to {sys.executable}"
    return found


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    # A wide, plain terminal, so that help text is neither wrapped nor coloured.
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [script, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_help_lists_every_command(waypost: str) -> None:
    done = run(waypost, "--help")
    assert done.returncode == 0, done.stderr
    listed = {line.strip(" │").split(" ", 1)[0] for line in done.stdout.splitlines()}
    missing = [command for command in COMMANDS if command not in listed]
    assert missing == [], done.stdout


def test_export_schema_check_passes_on_the_committed_schema(waypost: str) -> None:
    done = run(waypost, "export-schema", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
