"""The scratch Postgres database of a fault run, made the way production makes it.

``infra/postgres/init.sql`` creates the database and its roles (named after the database:
roles are cluster-wide); ``waypost migrate`` runs as the owner it creates; the API and
workers log in as its NOINHERIT login role. The suite reads its figures as that role too
(switched to ``waypost_app``, bound to one workspace): row-level security applies to every
number it reports.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
INIT_SQL = ROOT / "infra" / "postgres" / "init.sql"
SERVER = "127.0.0.1"
PORT = 5432
PSQL = shutil.which("psql") or "/usr/bin/psql"
ADMIN = "postgres"  # runs init.sql only, as an operator would; never the application
OWNER, APP, LOGIN = "waypost_owner", "waypost_app", "waypost_api"  # init.sql's defaults


@dataclass(frozen=True)
class ProductionDatabase:
    name: str
    owner: str = OWNER
    login: str = LOGIN

    def url(self, role: str, *, port: int = PORT) -> str:
        """A SQLAlchemy URL (the cluster trusts loopback; the passwords stay unused)."""
        return f"postgresql+asyncpg://{role}@{SERVER}:{port}/{self.name}"


def production_database(name: str) -> ProductionDatabase:
    """Create database ``name`` and its roles with ``infra/postgres/init.sql``, run as an
    operator runs it: its variables name the database and, since roles are shared by the
    cluster, this database's own owner and login roles."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"database name {name!r}: lower-case letters, digits, underscores")
    db = ProductionDatabase(name, owner=f"{name}_owner", login=f"{name}_api")
    _psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    subprocess.run(  # noqa: S603 - psql with our own script
        [
            PSQL,
            *("-h", SERVER, "-p", str(PORT), "-U", ADMIN, "-d", "postgres", "-q", "-X"),
            *("-v", "ON_ERROR_STOP=1"),
            *("-v", f"database={name}"),
            *("-v", f"owner_role={db.owner}"),
            *("-v", f"api_role={db.login}"),
            *("-v", f"owner_password={secrets.token_hex(16)}"),
            *("-v", f"api_password={secrets.token_hex(16)}"),
            *("-f", str(INIT_SQL)),
        ],
        text=True,
        check=True,
        capture_output=True,
    )
    return db


def drop_database(name: str) -> None:
    _psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _psql(database: str, sql: str) -> None:
    subprocess.run(  # noqa: S603
        [PSQL, "-h", SERVER, "-p", str(PORT), "-U", ADMIN, "-d", database, "-qc", sql],
        check=True,
        capture_output=True,
        text=True,
    )


def login_role_differences(login: str = LOGIN) -> list[str]:
    """How an existing login role differs from what init.sql would create."""
    done = subprocess.run(  # noqa: S603
        [
            PSQL,
            *("-h", SERVER, "-p", str(PORT), "-U", ADMIN, "-d", "postgres", "-At"),
            *("-v", f"role={login}"),
        ],
        input="SELECT rolinherit, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole "
        "FROM pg_roles WHERE rolname = :'role'",
        check=True,
        capture_output=True,
        text=True,
    )
    flags = done.stdout.strip().split("|")
    names = ("INHERIT", "SUPERUSER", "BYPASSRLS", "CREATEDB", "CREATEROLE")
    return [name for name, flag in zip(names, flags, strict=False) if flag == "t"]


# -- instrumentation -------------------------------------------------------------------

# Installed by the owner after migrating: one row per committed handling of an outbox
# event (its handlers and processed_at commit together), so an event handled twice
# shows as two rows. The application role may only append to it.
HANDLED_LEDGER = """
CREATE TABLE faults_handled (
  event_id uuid NOT NULL, workspace_id uuid NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION faults_record_handled() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  INSERT INTO faults_handled (event_id, workspace_id) VALUES (NEW.id, NEW.workspace_id);
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION faults_record_handled() FROM PUBLIC;
CREATE TRIGGER faults_handled AFTER UPDATE OF processed_at ON outbox_events
  FOR EACH ROW WHEN (NEW.processed_at IS NOT NULL
                     AND NEW.processed_at IS DISTINCT FROM OLD.processed_at)
  EXECUTE FUNCTION faults_record_handled();
GRANT SELECT ON faults_handled TO waypost_app;
"""


async def install_ledger(db: ProductionDatabase) -> None:
    conn = await asyncpg.connect(db.url(db.owner).replace("+asyncpg", ""))
    try:
        await conn.execute(HANDLED_LEDGER)
    finally:
        await conn.close()


@dataclass(frozen=True)
class Pipeline:
    """One workspace's outbox, as the application role sees it."""

    emitted: int
    dispatched: int
    processed: int
    handled_commits: int  # ledger rows: more than ``processed`` means handled twice
    handled_twice: int  # events with more than one ledger row
    dead_lettered: int
    redelivered: int  # events sent more than once (absorbed by idempotent handling)

    @property
    def pending(self) -> int:
        return self.emitted - self.processed - self.dead_lettered


class Reader:
    """Counts read as ``waypost_api`` → ``waypost_app``, bound to one workspace."""

    def __init__(self, db: ProductionDatabase) -> None:
        self.dsn = db.url(db.login).replace("+asyncpg", "")

    async def _fetch(self, workspace: UUID, sql: str, *args: object) -> asyncpg.Record:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(f"SET ROLE {APP}")
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('waypost.workspace_ids', $1, true)", str(workspace)
                )
                return await conn.fetchrow(sql, *args)
        finally:
            await conn.close()

    async def pipeline(self, workspace: UUID, since_sequence: int = 0) -> Pipeline:
        row = await self._fetch(
            workspace,
            """
            WITH mine AS (
              SELECT * FROM outbox_events WHERE workspace_id = $1 AND sequence > $2),
            ledger AS (
              SELECT event_id, count(*) AS n FROM faults_handled
              WHERE event_id IN (SELECT id FROM mine) GROUP BY event_id)
            SELECT
              (SELECT count(*) FROM mine) AS emitted,
              (SELECT count(*) FROM mine WHERE dispatched_at IS NOT NULL) AS dispatched,
              (SELECT count(*) FROM mine WHERE processed_at IS NOT NULL) AS processed,
              (SELECT coalesce(sum(n), 0) FROM ledger) AS handled_commits,
              (SELECT count(*) FROM ledger WHERE n > 1) AS handled_twice,
              (SELECT count(*) FROM mine WHERE dead_lettered_at IS NOT NULL) AS dead_lettered,
              (SELECT count(*) FROM mine WHERE dispatch_count > 1) AS redelivered
            """,
            workspace,
            since_sequence,
        )
        return Pipeline(**{key: int(row[key]) for key in row.keys()})  # noqa: SIM118

    async def last_sequence(self, workspace: UUID) -> int:
        row = await self._fetch(
            workspace,
            "SELECT coalesce(max(sequence), 0) AS n FROM outbox_events WHERE workspace_id = $1",
            workspace,
        )
        return int(row["n"])

    async def feedback(self, workspace: UUID, prefix: str) -> tuple[int, int]:
        """Rows whose external id starts with ``prefix``, and how many ids are repeated."""
        row = await self._fetch(
            workspace,
            """
            SELECT count(*) AS rows, count(*) - count(DISTINCT (source, external_id)) AS twice
            FROM feedback WHERE workspace_id = $1 AND external_id LIKE $2
            """,
            workspace,
            prefix + "%",
        )
        return int(row["rows"]), int(row["twice"])

    async def revisions(self, workspace: UUID, journey_map: UUID) -> list[tuple[int, str]]:
        """(version, title) of each revision of the map, oldest first."""
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(f"SET ROLE {APP}")
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('waypost.workspace_ids', $1, true)", str(workspace)
                )
                rows = await conn.fetch(
                    """
                    SELECT version, snapshot->>'title' AS title FROM journey_map_revisions
                    WHERE workspace_id = $1 AND journey_map_id = $2 ORDER BY version
                    """,
                    workspace,
                    journey_map,
                )
        finally:
            await conn.close()
        return [(int(r["version"]), str(r["title"])) for r in rows]
