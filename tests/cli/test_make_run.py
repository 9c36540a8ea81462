"""`make run`: served where HOST and PORT say, with a token that lasts from one start to
the next (kept in a file only its owner reads) and is replaced once it stops working."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import stat
import subprocess
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.tokens import hash_secret, new_secret
from backend.db.engine import Database
from backend.db.types import utcnow
from backend.entrypoints.commands.organizations import demo_token
from backend.models import ApiToken
from backend.settings import Settings
from tests.cli.test_cli import TOKEN, WAYPOST, _free_port
from tests.fixtures.databases import truncate_all
from tests.fixtures.embedded import serving
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.tenants import Tenant, seed_tenant

ROOT = Path(__file__).resolve().parents[2]
VIEWER = "{ viewer { user { email } } }"


def make_run_arguments(*assignments: str) -> list[str]:
    """The arguments `make run` gives `waypost`, from make's dry run (nothing installed)."""
    make = shutil.which("make")
    assert make is not None, "make is not installed (the README asks for it)"
    done = subprocess.run(
        [make, "--dry-run", "--no-print-directory", "-C", str(ROOT), "run", *assignments],
        capture_output=True,
        text=True,
        check=True,
    )
    [line] = [line for line in done.stdout.splitlines() if "/waypost " in line]
    return shlex.split(line)[1:]


async def _viewer_email(base: str, token: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=10.0) as http:
        response = await http.post(
            "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
        )
    email: str = response.json()["data"]["viewer"]["user"]["email"]
    return email


async def test_make_run_serves_on_host_and_port_and_keeps_its_token_across_starts(
    tmp_path: Path, embedded: Database
) -> None:
    tenant = await seed_tenant(embedded, "solo", workspaces=1)  # no half-minute demo seeding
    port = _free_port()
    arguments = make_run_arguments("HOST=localhost", f"PORT={port}")
    assert arguments == ["dev", "--host", "localhost", "--port", str(port)]
    base = f"http://localhost:{port}"

    starts: list[tuple[str, str]] = []  # what each start printed, and its token
    for start in (1, 2):
        log = tmp_path / f"start-{start}.log"
        async with serving([*WAYPOST, *arguments], cwd=tmp_path, base=base, log=log):
            output = log.read_text()
            token = TOKEN.findall(output)[0]
            assert await _viewer_email(base, token) == tenant.owner_email
        assert f"GraphiQL:  {base}/graphql" in output
        assert f"curl -s {base}/graphql -H 'Authorization: Bearer {token}'" in output
        assert f"Uvicorn running on {base}" in output
        starts.append((output, token))
    (first, first_token), (second, second_token) = starts
    assert "new, kept in var/demo-token, expires " in first
    assert "reused, kept in var/demo-token, expires " in second
    assert second_token == first_token
    assert stat.S_IMODE((tmp_path / "var" / "demo-token").stat().st_mode) == 0o600


# demo_token as `waypost dev` calls it, on the suite's database (SQLite or Postgres).


def _about_30_days_from_now(when: datetime | None) -> bool:
    return when is not None and timedelta(days=29, hours=23) < when - utcnow() <= timedelta(days=30)


async def test_make_run_reuses_its_token_at_the_next_start_and_it_still_works(
    settings: Settings, tenant_a: Tenant, gql: GraphQLClient, tmp_path: Path
) -> None:
    kept = tmp_path / "var" / "demo-token"
    first = await asyncio.to_thread(demo_token, settings, kept)
    second = await asyncio.to_thread(demo_token, settings, kept)
    assert (first.reused, second.reused) == (False, True)
    assert second.plaintext == first.plaintext
    assert second.expires_at == first.expires_at
    body = await gql(VIEWER, token=second.plaintext)
    assert body["data"]["viewer"]["user"]["email"] == tenant_a.owner_email


async def test_a_new_make_run_token_expires_in_30_days(
    settings: Settings, tenant_a: Tenant, gql: GraphQLClient, tmp_path: Path
) -> None:
    made = await asyncio.to_thread(demo_token, settings, tmp_path / "demo-token")
    assert _about_30_days_from_now(made.expires_at)
    body = await gql(
        "{ viewer { apiTokens(first: 10) { edges { node { name expiresAt } } } } }",
        token=made.plaintext,
    )
    stored = {
        edge["node"]["name"]: edge["node"]["expiresAt"]
        for edge in body["data"]["viewer"]["apiTokens"]["edges"]
    }
    assert _about_30_days_from_now(datetime.fromisoformat(stored["make run"]))


async def test_the_kept_token_is_readable_by_its_owner_only(
    settings: Settings, tenant_a: Tenant, tmp_path: Path
) -> None:
    kept = tmp_path / "demo-token"
    kept.write_text(new_secret().plaintext)  # a token this database never issued ...
    kept.chmod(0o644)  # ... left readable by all
    made = await asyncio.to_thread(demo_token, settings, kept)
    assert kept.read_text().strip() == made.plaintext
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


async def _revoke(inspector: AsyncEngine, database: Database, kept: str) -> None:
    async with inspector.begin() as conn:
        statement = update(ApiToken).where(ApiToken.secret_hash == hash_secret(kept))
        await conn.execute(statement.values(revoked_at=utcnow()))


async def _expire_within_the_hour(inspector: AsyncEngine, database: Database, kept: str) -> None:
    # Still live, but it would die in the middle of the session just started.
    async with inspector.begin() as conn:
        statement = update(ApiToken).where(ApiToken.secret_hash == hash_secret(kept))
        await conn.execute(statement.values(expires_at=utcnow() + timedelta(hours=1)))


async def _recreate_the_database(inspector: AsyncEngine, database: Database, kept: str) -> None:
    await truncate_all(inspector)
    await seed_tenant(database, "alpha")


@pytest.mark.parametrize(
    "end_the_token", [_revoke, _expire_within_the_hour, _recreate_the_database]
)
async def test_make_run_replaces_a_kept_token_that_no_longer_works(
    settings: Settings,
    tenant_a: Tenant,
    database: Database,
    inspector_engine: AsyncEngine,
    gql: GraphQLClient,
    tmp_path: Path,
    end_the_token: Callable[[AsyncEngine, Database, str], Awaitable[None]],
) -> None:
    kept = tmp_path / "demo-token"
    old = await asyncio.to_thread(demo_token, settings, kept)
    await end_the_token(inspector_engine, database, old.plaintext)
    new = await asyncio.to_thread(demo_token, settings, kept)
    assert not new.reused
    assert new.plaintext != old.plaintext
    assert kept.read_text().strip() == new.plaintext
    assert _about_30_days_from_now(new.expires_at)
    body = await gql(VIEWER, token=new.plaintext)
    # (after a re-created database, the new "alpha" has an owner of the same address)
    assert body["data"]["viewer"]["user"]["email"] == tenant_a.owner_email
