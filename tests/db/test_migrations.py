"""Migrations build the whole schema, undo it cleanly, and agree with the models."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from backend.entrypoints.migrate import alembic_config, downgrade, upgrade
from backend.models import Base
from tests.fixtures.databases import (
    TestDatabase,
    create_postgres_database,
    drop_postgres_database,
    sqlite_database,
)


@pytest_asyncio.fixture(loop_scope="session")
async def scratch_database(test_database: TestDatabase) -> AsyncIterator[TestDatabase]:
    """An empty database on the same backend as the suite, with the suite's roles."""
    if not test_database.is_postgres:
        yield sqlite_database()
        return
    superuser_url = make_url(test_database.inspector_url)
    name = f"{superuser_url.database}_scratch_{uuid.uuid4().hex[:8]}"
    yield await create_postgres_database(
        superuser_url, name, roles_of=superuser_url.database or None
    )
    await drop_postgres_database(superuser_url, name)


@pytest.fixture
def scratch_url(scratch_database: TestDatabase) -> str:
    """The scratch database as its owner sees it: what `waypost migrate` connects as."""
    return scratch_database.owner_url


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def _tables_at(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_tables)
    finally:
        await engine.dispose()


def test_migrations_have_a_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


async def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    await asyncio.to_thread(upgrade, scratch_url)
    assert await _tables_at(scratch_url) == set(Base.metadata.tables)
    await asyncio.to_thread(downgrade, scratch_url)
    assert await _tables_at(scratch_url) == set()
    await asyncio.to_thread(upgrade, scratch_url)
    assert await _tables_at(scratch_url) == set(Base.metadata.tables)


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(test_database: TestDatabase) -> None:
    engine = create_async_engine(test_database.owner_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == [], "run alembic revision --autogenerate and review it"


@pytest.mark.parametrize(
    "table", sorted(t.name for t in Base.metadata.sorted_tables if "workspace_id" in t.c)
)
def test_workspace_tables_lead_their_primary_key_with_workspace_id(table: str) -> None:
    pk = [c.name for c in Base.metadata.tables[table].primary_key.columns]
    assert pk[:2] == ["workspace_id", "id"]
    for fk in Base.metadata.tables[table].foreign_key_constraints:
        target = fk.referred_table
        if "workspace_id" in target.c and target.name != "workspaces":
            assert "workspace_id" in fk.column_keys, f"{table}.{fk.name} must include workspace_id"


async def test_existing_feedback_gets_a_placement_and_a_sentiment_status(
    scratch_url: str,
) -> None:
    """Rows from before placement and sentiment statuses existed: linked ones are LINKED,
    those that carried match keys but found no touchpoint join the editors' queue as
    UNMATCHED, the rest are NONE; a stored sentiment is SCORED, an empty text UNSCORED."""
    await asyncio.to_thread(upgrade, scratch_url, "0019")
    org, ws = uuid.uuid4(), uuid.uuid4()
    ids = {name: uuid.uuid4() for name in ("linked", "keys", "plain")}
    engine = create_async_engine(scratch_url)
    is_pg = engine.dialect.name == "postgresql"

    def key(value: uuid.UUID) -> uuid.UUID | str:
        return value if is_pg else value.hex

    try:
        async with engine.begin() as conn:
            now = datetime(2026, 11, 1, tzinfo=UTC)
            await conn.execute(
                text(
                    "INSERT INTO organizations (id, slug, name, kind, created_at, updated_at)"
                    " VALUES (:id, 'o', 'O', 'COMPANY', :now, :now)"
                ),
                {"id": key(org), "now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO workspaces (id, organization_id, name, created_at, updated_at)"
                    " VALUES (:id, :org, 'W', :now, :now)"
                ),
                {"id": key(ws), "org": key(org), "now": now},
            )
            if is_pg:  # row-level security binds even the owner to a workspace
                await conn.execute(
                    text("SELECT set_config('waypost.workspace_ids', :ws, true)"), {"ws": str(ws)}
                )
            for name, (touchpoint, event, sentiment, words) in {
                "linked": (uuid.uuid4(), None, 0.4, "Fine"),
                "keys": (None, "checkout.view", None, "Hm"),
                "plain": (None, None, None, ""),
            }.items():
                await conn.execute(
                    text(
                        "INSERT INTO feedback (workspace_id, id, source, external_id,"
                        " touchpoint_id, event_name, sentiment, text, tags, occurred_at,"
                        " received_at) VALUES (:ws, :id, 'SURVEY', :external, :tp, :event,"
                        " :sentiment, :words, '[]', :now, :now)"
                    ),
                    {
                        "ws": key(ws),
                        "id": key(ids[name]),
                        "external": name,
                        "tp": key(touchpoint) if touchpoint else None,
                        "event": event,
                        "sentiment": sentiment,
                        "words": words,
                        "now": now,
                    },
                )
        await asyncio.to_thread(upgrade, scratch_url)
        async with engine.begin() as conn:
            if is_pg:
                await conn.execute(
                    text("SELECT set_config('waypost.workspace_ids', :ws, true)"), {"ws": str(ws)}
                )
            rows = (
                await conn.execute(text("SELECT id, placement, sentiment_status FROM feedback"))
            ).all()
    finally:
        await engine.dispose()
    found = {str(r[0]).replace("-", ""): (r[1], r[2]) for r in rows}
    assert found == {
        ids["linked"].hex: ("LINKED", "SCORED"),
        ids["keys"].hex: ("UNMATCHED", "PENDING"),
        ids["plain"].hex: ("NONE", "UNSCORED"),
    }
