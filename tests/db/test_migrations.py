"""Migrations build the whole schema, undo it cleanly, and agree with the models."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
import pytest_asyncio
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from backend.audit.chain import GENESIS, ChainReport, event_hash
from backend.audit.verify import verify_scope
from backend.crypto.audit_keys import AuditKey, AuditKeyring
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.entrypoints.migrate import alembic_config, downgrade, upgrade
from backend.health.model import Component
from backend.health.repository.scores import components_of
from backend.models import Base
from backend.models.audit import AuditScope
from backend.settings import get_settings
from tests.fixtures.databases import (
    APP_ROLE,
    TestDatabase,
    create_postgres_database,
    drop_postgres_database,
    is_postgres_run,
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


async def test_evidence_per_metric_rows_become_one_row_per_subject_and_back(
    scratch_url: str,
) -> None:
    """0023 carries the evidence over (an incremental pass before the next full one
    scores from it): a subject's metric rows become its columns, and a downgrade splits
    them again, leaving out metrics with no answers in either window."""
    await asyncio.to_thread(upgrade, scratch_url, "0022")
    org, ws, touchpoint, stage = (uuid.uuid4() for _ in range(4))
    engine = create_async_engine(scratch_url)
    is_pg = engine.dialect.name == "postgresql"

    def key(value: uuid.UUID) -> uuid.UUID | str:
        return value if is_pg else value.hex

    now = datetime(2026, 11, 1, tzinfo=UTC)
    sql_now = now if is_pg else now.replace(tzinfo=None)
    long = {
        (touchpoint, "CSAT"): ("TOUCHPOINT", 6, 450.0, 36000.0, 2, 100.0, 5000.0),
        (touchpoint, "SENTIMENT"): ("TOUCHPOINT", 3, 120.0, 5400.0, 0, 0.0, 0.0),
        (stage, "NPS"): ("STAGE", 0, 0.0, 0.0, 5, 250.0, 12500.0),
    }

    async def bind(conn: AsyncConnection) -> None:
        if is_pg:  # row-level security binds even the owner to a workspace
            await conn.execute(
                text("SELECT set_config('waypost.workspace_ids', :ws, true)"), {"ws": str(ws)}
            )

    try:
        async with engine.begin() as conn:
            await _organization_and_workspace(conn, key(org), key(ws), sql_now)
            await bind(conn)
            for (subject, metric), (level, *sums) in long.items():
                await conn.execute(
                    text(
                        "INSERT INTO health_evidence (workspace_id, id, metric, level, as_of,"
                        " n, total, total_sq, previous_n, previous_total, previous_total_sq)"
                        " VALUES (:ws, :id, :metric, :level, :now, :n, :t, :sq, :pn, :pt, :psq)"
                    ),
                    dict(
                        zip(
                            (
                                "ws",
                                "id",
                                "metric",
                                "level",
                                "now",
                                "n",
                                "t",
                                "sq",
                                "pn",
                                "pt",
                                "psq",
                            ),
                            (key(ws), key(subject), metric, level, sql_now, *sums),
                            strict=True,
                        )
                    ),
                )
        await asyncio.to_thread(upgrade, scratch_url)
        async with engine.begin() as conn:
            await bind(conn)
            wide = {
                str(r.id).replace("-", ""): r._mapping
                for r in (await conn.execute(text("SELECT * FROM health_evidence"))).all()
            }
        await asyncio.to_thread(downgrade, scratch_url, "0022")
        await engine.dispose()  # its connections prepared statements on the old table
        async with engine.begin() as conn:
            await bind(conn)
            back = {
                (str(r.id).replace("-", ""), r.metric): (
                    r.level,
                    r.n,
                    r.total,
                    r.total_sq,
                    r.previous_n,
                    r.previous_total,
                    r.previous_total_sq,
                )
                for r in (await conn.execute(text("SELECT * FROM health_evidence"))).all()
            }
    finally:
        await engine.dispose()
    assert set(wide) == {touchpoint.hex, stage.hex}
    row = wide[touchpoint.hex]
    assert row["level"] == "TOUCHPOINT"
    assert (row["csat_n"], row["csat_total"], row["csat_previous_n"]) == (6, 450.0, 2)
    assert (row["sentiment_n"], row["sentiment_total_sq"]) == (3, 5400.0)
    assert row["nps_n"] == row["nps_previous_n"] == row["ces_n"] == row["rating_n"] == 0
    assert (wide[stage.hex]["nps_previous_n"], wide[stage.hex]["csat_n"]) == (5, 0)
    assert back == {(subject.hex, metric): sums for (subject, metric), sums in long.items()}


async def test_stored_components_become_arrays_and_back(scratch_url: str) -> None:
    """0024 rewrites a score's keyed components as arrays in ``Component`` field order,
    which the reader takes, every number exactly as it was; a downgrade gives the keyed
    form back."""
    await asyncio.to_thread(upgrade, scratch_url, "0023")
    org, ws, subject = (uuid.uuid4() for _ in range(3))
    engine = create_async_engine(scratch_url)
    is_pg = engine.dialect.name == "postgresql"

    def key(value: uuid.UUID) -> uuid.UUID | str:
        return value if is_pg else value.hex

    now = datetime(2026, 11, 1, tzinfo=UTC)
    sql_now = now if is_pg else now.replace(tzinfo=None)
    keyed = [
        {  # values with 17 significant digits: a conversion must not round them
            "name": "csat",
            "value": 200 / 3,
            "weight": 0.29411764705882354,
            "sample_size": 12,
            "prior_share": 0.0,
            "low": 60.5,
            "high": 80.12345678901234,
            "headline": 200 / 3,
        },
        {
            "name": "prior",
            "value": 50.0,
            "weight": 0.2,
            "sample_size": 0,
            "prior_share": 0.2,
            "low": None,
            "high": None,
            "headline": None,
        },
    ]

    async def bind(conn: AsyncConnection) -> None:
        if is_pg:  # row-level security binds even the owner to a workspace
            await conn.execute(
                text("SELECT set_config('waypost.workspace_ids', :ws, true)"), {"ws": str(ws)}
            )

    async def components(conn: AsyncConnection) -> Any:
        await bind(conn)
        found = await conn.scalar(text("SELECT components FROM health_scores"))
        return json.loads(found) if isinstance(found, str) else found

    try:
        async with engine.begin() as conn:
            await _organization_and_workspace(conn, key(org), key(ws), sql_now)
            await bind(conn)
            await conn.execute(
                text(
                    "INSERT INTO health_scores (workspace_id, id, subject_type, state, score,"
                    " sample_size, previous_sample_size, scored_parts, parts, components,"
                    " computed_at) VALUES (:ws, :id, 'TOUCHPOINT', 'SCORED', 66.0, 12, 0, 0, 0,"
                    " :components, :now)"
                ),
                {
                    "ws": key(ws),
                    "id": key(subject),
                    "components": json.dumps(keyed),
                    "now": sql_now,
                },
            )
        await asyncio.to_thread(upgrade, scratch_url)
        async with engine.begin() as conn:
            arrays = await components(conn)
        await asyncio.to_thread(downgrade, scratch_url, "0023")
        async with engine.begin() as conn:
            back = await components(conn)
    finally:
        await engine.dispose()
    assert arrays == [list(c.values()) for c in keyed]
    assert components_of(arrays) == tuple(Component(**c) for c in keyed)
    assert back == keyed


async def _organization_and_workspace(
    conn: AsyncConnection, org: object, ws: object, now: datetime
) -> None:
    await conn.execute(
        text(
            "INSERT INTO organizations (id, slug, name, kind, created_at, updated_at)"
            " VALUES (:id, 'o', 'O', 'COMPANY', :now, :now)"
        ),
        {"id": org, "now": now},
    )
    await conn.execute(
        text(
            "INSERT INTO workspaces (id, organization_id, name, created_at, updated_at)"
            " VALUES (:id, :org, 'W', :now, :now)"
        ),
        {"id": ws, "org": org, "now": now},
    )


@pytest.mark.skipif(
    not is_postgres_run(), reason="SQLite keeps JSON as text: 0030 has nothing to do"
)
async def test_stored_audit_changes_are_rewritten_as_written_and_their_hashes_hold(
    scratch_database: TestDatabase,
) -> None:
    """0030 turns ``changes`` into json and rewrites each stored event's jsonb as the text
    the API wrote for what it read back (no spaces; numbers as they were read), every
    workspace's, in batches; each chain verifies before and after."""
    url = scratch_database.owner_url
    await asyncio.to_thread(upgrade, url, "0029")
    key = AuditKeyring.from_settings(get_settings()).current
    now = datetime(2026, 12, 1, tzinfo=UTC)
    workspaces = [uuid.uuid4() for _ in range(3)]
    # Events as the API wrote them before (the standard library's spaced text), with
    # values jsonb gives back as they were hashed.
    changes = [
        {"name": {"before": "Old", "after": "New ☕"}},
        {"score": {"before": 0.1 + 0.2, "after": 1.5e-7}, "n": 12345678901234567},
        {"nested": {"list": [100.0, 1e15, {"z": None}], "text": 'é \u2028 "q" \\'}},
    ]
    written: dict[tuple[uuid.UUID, int], str] = {}
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            org = uuid.uuid4()
            await _organization_and_workspace(conn, org, workspaces[0], now)
            for n, ws in enumerate(workspaces[1:]):
                await conn.execute(
                    text(
                        "INSERT INTO workspaces (id, organization_id, name, created_at, updated_at)"
                        " VALUES (:id, :org, :name, :now, :now)"
                    ),
                    {"id": ws, "org": org, "name": f"W{n}", "now": now},
                )
        for ws in workspaces:
            previous = GENESIS
            for sequence, change in enumerate(changes, start=1):
                row = _audit_row(ws, sequence, change, previous, now, key)
                previous = row["hash"]
                async with engine.begin() as conn:
                    await _bind_workspaces(conn, [ws])
                    await conn.execute(_INSERT_EVENT, {**row, "changes": json.dumps(change)})
                written[(ws, sequence)] = orjson.dumps(_jsonb_order(change)).decode()
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO chain_heads (scope, scope_id, audit_sequence, audit_hash,"
                        " outbox_sequence) VALUES ('WORKSPACE', :ws, :n, :hash, 0)"
                    ),
                    {"ws": ws, "n": len(changes), "hash": previous},
                )
        before = await _verified(scratch_database, workspaces)
        await asyncio.to_thread(upgrade, url)
        async with engine.begin() as conn:
            await _bind_workspaces(conn, workspaces)
            found = (
                await conn.execute(
                    text("SELECT workspace_id, sequence, changes::text FROM audit_events")
                )
            ).all()
            kind = await conn.scalar(
                text(
                    "SELECT data_type FROM information_schema.columns"
                    " WHERE table_name = 'audit_events' AND column_name = 'changes'"
                )
            )
    finally:
        await engine.dispose()
    after = await _verified(scratch_database, workspaces)
    assert kind == "json"
    assert {(w, s): t for w, s, t in found} == written
    assert all(r.ok for r in before), before
    assert all(r.ok for r in after), after


def _jsonb_order(value: Any) -> Any:
    """``value`` with each object's keys as jsonb keeps them: shorter first, then by bytes
    (what the API has read back, and answered with, since)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: _jsonb_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [_jsonb_order(v) for v in value]
    return value


async def _bind_workspaces(conn: AsyncConnection, workspaces: list[uuid.UUID]) -> None:
    await conn.execute(
        text("SELECT set_config('waypost.workspace_ids', :ws, true)"),
        {"ws": ",".join(str(w) for w in workspaces)},
    )


_INSERT_EVENT = text(
    "INSERT INTO audit_events (workspace_id, id, sequence, occurred_at, actor_type,"
    " action, subject_type, subject_id, changes, prev_hash, hash, key_id)"
    " VALUES (:workspace_id, :id, :sequence, :occurred_at, :actor_type, :action,"
    " :subject_type, :subject_id, :changes, :prev_hash, :hash, :key_id)"
)


def _audit_row(
    ws: uuid.UUID,
    sequence: int,
    changes: dict[str, Any],
    prev_hash: str,
    now: datetime,
    key: AuditKey,
) -> dict[str, Any]:
    event = SimpleNamespace(
        sequence=sequence,
        occurred_at=now,
        actor_type="SYSTEM",
        actor_user_id=None,
        actor_token_id=None,
        action="workspace.update",
        subject_type="Workspace",
        subject_id=str(ws),
        changes=changes,
        request_id=None,
        ip=None,
        user_agent=None,
        prev_hash=prev_hash,
    )
    return {
        "workspace_id": ws,
        "id": uuid.uuid4(),
        "sequence": sequence,
        "occurred_at": now,
        "actor_type": "SYSTEM",
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "prev_hash": prev_hash,
        "hash": event_hash(AuditScope.WORKSPACE, ws, event, key),  # type: ignore[arg-type]
        "key_id": key.id,
    }


async def _verified(scratch: TestDatabase, workspaces: list[uuid.UUID]) -> list[ChainReport]:
    database = Database(scratch.app_url, app_role=APP_ROLE)
    try:
        reports = []
        for ws in workspaces:
            async with database.transaction(TenantBinding(frozenset({ws}))) as session:
                reports.append(await verify_scope(session, AuditScope.WORKSPACE, ws))
        return reports
    finally:
        await database.dispose()
