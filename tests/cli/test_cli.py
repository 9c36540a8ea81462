"""The `waypost` command, run as a person would: as a real process."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from backend.db.engine import Database
from backend.entrypoints.cli import SCHEMA_FILE
from tests.fixtures.databases import TestDatabase
from tests.fixtures.graphql import GraphQLClient

WAYPOST = [sys.executable, "-m", "backend.entrypoints"]
TOKEN = re.compile(r"\bwp_[A-Za-z0-9_-]{20,}")


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WAYPOST, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli_env(test_database: TestDatabase, database: Database) -> dict[str, str]:
    # `database` is requested so the tables are emptied after the test.
    return {"WAYPOST_DATABASE_URL": test_database.app_url, "WAYPOST_ENV": "test"}


async def test_bootstrap_prints_a_token_that_answers_viewer(
    cli_env: dict[str, str], gql: GraphQLClient
) -> None:
    done = run(
        "bootstrap",
        "--org",
        "acme",
        "--name",
        "Acme",
        "--kind",
        "company",
        "--admin-email",
        "Admin@Acme.io",
        env=cli_env,
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert TOKEN.fullmatch(token)
    body = await gql(
        '{ viewer { user { email } } organization(slug: "acme") { kind viewerRole } }', token=token
    )
    assert body["data"]["viewer"]["user"]["email"] == "admin@acme.io"
    assert body["data"]["organization"] == {"kind": "COMPANY", "viewerRole": "OWNER"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--org", "Not A Slug", "--name", "x", "--kind", "agency", "--admin-email", "a@b.io"],
            "--org:",
        ),
        (
            ["--org", "ok", "--name", "x", "--kind", "agency", "--admin-email", "nope"],
            "--admin-email:",
        ),
        (["--org", "ok", "--name", "  ", "--kind", "agency", "--admin-email", "a@b.io"], "--name:"),
        (["--org", "ok", "--name", "x", "--kind", "bank", "--admin-email", "a@b.io"], "--kind"),
    ],
)
def test_bootstrap_reports_bad_flags_by_name(
    cli_env: dict[str, str], args: list[str], message: str
) -> None:
    done = run("bootstrap", *args, env=cli_env)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_bootstrap_refuses_an_existing_slug(cli_env: dict[str, str]) -> None:
    args = [
        "bootstrap",
        "--org",
        "dup",
        "--name",
        "D",
        "--kind",
        "agency",
        "--admin-email",
        "a@b.io",
    ]
    assert run(*args, env=cli_env).returncode == 0
    again = run(*args, env=cli_env)
    assert again.returncode == 2
    assert "--org:" in again.stderr


def test_export_schema_check_passes_for_the_committed_file_and_fails_when_stale(
    tmp_path: Path,
) -> None:
    assert run("export-schema", "--check").returncode == 0
    stale = tmp_path / "schema.graphql"
    stale.write_text(SCHEMA_FILE.read_text().replace("viewerRole", "viewerRoll"))
    done = run("export-schema", "--check", "--output", str(stale))
    assert done.returncode == 1
    assert "out of date" in done.stderr


def test_production_refuses_to_start_with_the_default_secret() -> None:
    done = run("serve", env={"WAYPOST_ENV": "production", "WAYPOST_SECRET_KEY": ""})
    assert done.returncode == 2
    assert "WAYPOST_SECRET_KEY" in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_make_run_path_migrates_seeds_prints_a_token_and_serves(tmp_path: Path) -> None:
    """What `make run` does, on an empty embedded database in a fresh directory."""
    port = _free_port()
    env = {**os.environ, "WAYPOST_DATABASE_URL": "", "WAYPOST_BROKER_URL": "", "WAYPOST_ENV": ""}
    env = {k: v for k, v in env.items() if v}
    process = subprocess.Popen(
        [*WAYPOST, "dev", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        token = None
        output: list[str] = []
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        while token is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            output.append(line)
            if "Token:" in line and (found := TOKEN.search(line)):
                token = found.group(0)
        assert token, "".join(output)
        assert any(f"http://127.0.0.1:{port}/graphql" in line for line in output)
        body = None
        while time.monotonic() < deadline:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/graphql",
                    json={"query": "{ viewer { user { email } } }"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                body = response.json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert body == {"data": {"viewer": {"user": {"email": "admin@demo.example"}}}}
        assert (tmp_path / "var" / "waypost.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=20)
