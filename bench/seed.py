"""The world `make bench` measures: one agency, many workspaces, full maps, lots of feedback.

    .venv/bin/python -m bench.seed --size medium [--reseed]

``seed(size)`` creates the database ``waypost_bench_<size>`` (``WAYPOST_BENCH_DATABASE_PREFIX``
replaces ``waypost_bench_``, for two checkouts benchmarking side by side), migrates it with the
project's own entry point (``backend.entrypoints.migrate.upgrade``), and fills it:

- through the real services, on the application role under row-level security: the
  organization (kind AGENCY, the multi-workspace kind) with its owner (the one admin
  user), every workspace (``create_workspace``, audited), an API token of the owner
  without limits (its bearer reaches every workspace) and an ingestion token for
  workspace 0, so both tokens authenticate like any others;
- set-based, as the tables' owner (which bypasses row-level security): the maps (all
  ACTIVE, CURRENT_STATE, version 1) with their stages, touchpoints (emotion -2..2 spread
  out, two moments of truth per stage, channels, devices, departments, and match keys
  ``{"event_names": ["bench.<ws>.<map>.<stage>.<tp>"], "url_patterns": [],
  "survey_ids": []}``, the shape journeys.touchpoints stores and the ingestion matcher
  reads), pain points (severities in turn, one in eight resolved), the version-1
  revision of each map (the snapshot ``snapshots.snapshot`` would take, as
  ``create_journey_map`` records one: edits work without it, since a new version only
  inserts its own revision, but history and diffs start there), and the feedback.

Feedback comes in the order a live feed would bring it: batches of 100 items of one
workspace, workspaces in turn, oldest first over 180 days (received a few minutes after
it occurred), so a workspace's rows are spread through the table as in production. In a
workspace, items go round its touchpoints; each item's measure kind moves with its round
(CSAT, NPS, CES, RATING, or none with a text), so every touchpoint sees every kind; a
third carry a sentiment (and a text); values lean on the touchpoint's mapped emotion, so
scores differ between touchpoints. A size always builds the same figures (not ids).

Feedback is loaded with its table's indexes and keys dropped and rebuilt after (the
definitions read back from the catalogue, so they are exactly the migrations'), foreign
keys unchecked (``session_replication_role = replica``: the ids are consistent by
construction; so each workspace's count is added after, as the triggers that keep it
do not fire) and without waiting for the WAL; then ``VACUUM ANALYZE`` and one full
health pass of every workspace, in turn, as the nightly job (``health.recalculate_all``)
runs it. Nothing is left pending: no outbox events, no health requests.

The World (tokens, workspace and map ids, a hot match key) is saved to
``bench/.out/world-<size>.json``; the next ``seed`` of the same size returns it at once
while the database exists at the migration head and the fingerprint (the Size, the
migration head and this seeder's version) is unchanged.

Why ``large`` stops where it does (2 cores shared, 24 GB, PostgreSQL 15 with its default
128 MB of shared buffers): 200 workspaces x 20 maps (4,000 maps, 384,000 touchpoints,
768,000 pain points) and 5,000,000 feedback rows seed in about 110 s (feedback load and
index builds 70 s of it, structure and revisions 35 s) plus 130 s for the full health
pass, four minutes in all, and take 2.7 GB (feedback 1.76 GB of it). The health pass is
what limits the workspace count: it costs some 0.65 s a workspace of 1,920 touchpoints,
mostly Python (scoring and storing ~2,100 scores and snapshots), whatever the feedback,
so 400 workspaces would spend four and a half minutes on it alone. Feedback is cheap to
grow (about 14 s and 350 MB a million rows), but ten million would only lengthen the
load, not change what a pass or a request reads per workspace.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.auth.subject import Operator
from backend.authz.access import load_access
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.db.types import utcnow
from backend.entrypoints.migrate import alembic_config, upgrade
from backend.feedback import ingestion
from backend.health import recalculate
from backend.models import Workspace
from backend.tenancy import service as tenancy
from backend.tenancy.commands import CreateApiToken, CreateWorkspace
from backend.vocabulary.roles import OrganizationKind

log = logging.getLogger("bench.seed")

SERVER_URL = os.environ.get(
    "WAYPOST_BENCH_SERVER_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432"
)
APP_ROLE = "waypost_app"
OUT_DIR = Path(__file__).resolve().parent / ".out"
# Bump when what the seeder builds changes: saved worlds of an older seeder are rebuilt.
SEEDER_VERSION = 2
ORG_SLUG = "bench"
ADMIN_EMAIL = "admin@bench.example"
FEED_BATCH = 100  # items a feed sends for one workspace before the next one's turn
DAYS = 180


@dataclass(frozen=True)
class Size:
    workspaces: int
    maps_per_workspace: int
    stages_per_map: int
    touchpoints_per_stage: int
    pain_points_per_touchpoint: int
    feedback: int

    @property
    def touchpoints_per_map(self) -> int:
        return self.stages_per_map * self.touchpoints_per_stage

    @property
    def touchpoints_per_workspace(self) -> int:
        return self.maps_per_workspace * self.touchpoints_per_map

    @property
    def maps(self) -> int:
        return self.workspaces * self.maps_per_workspace

    @property
    def touchpoints(self) -> int:
        return self.workspaces * self.touchpoints_per_workspace

    @property
    def pain_points(self) -> int:
        return self.touchpoints * self.pain_points_per_touchpoint


SIZES: dict[str, Size] = {
    "small": Size(1, 5, 8, 12, 2, 20_000),
    "medium": Size(50, 20, 8, 12, 2, 1_000_000),
    "large": Size(200, 20, 8, 12, 2, 5_000_000),
}


@dataclass(frozen=True)
class WorkspaceInfo:
    id: UUID
    map_ids: list[UUID]


@dataclass(frozen=True)
class World:
    size: str
    database_url: str  # what the app connects with (it switches to waypost_app itself)
    api_token: str  # the owner's, unlimited: its bearer reaches every workspace
    ingestion_token: str  # workspace 0's
    workspaces: list[WorkspaceInfo]
    # An event name that attaches ingested feedback to one touchpoint: the first
    # touchpoint of the first stage of workspace 0's first map.
    hot_event_name: str
    hot_touchpoint_id: UUID
    feedback_rows: int
    touchpoints: int
    seeded_seconds: float
    recalc_seconds: float

    def to_json(self) -> str:
        return json.dumps(_plain(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> World:
        data = json.loads(text)
        values = {f.name: data[f.name] for f in fields(cls)}
        values["workspaces"] = [
            WorkspaceInfo(UUID(w["id"]), [UUID(m) for m in w["map_ids"]])
            for w in values["workspaces"]
        ]
        values["hot_touchpoint_id"] = UUID(values["hot_touchpoint_id"])
        return cls(**values)


def _plain(world: World) -> dict[str, Any]:
    data = asdict(world)
    data["workspaces"] = [
        {"id": str(w.id), "map_ids": [str(m) for m in w.map_ids]} for w in world.workspaces
    ]
    data["hot_touchpoint_id"] = str(world.hot_touchpoint_id)
    return data


def database_name(size: str) -> str:
    return f"{os.environ.get('WAYPOST_BENCH_DATABASE_PREFIX') or 'waypost_bench_'}{size}"


def database_url(name: str) -> str:
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


def world_file(size: str) -> Path:
    return OUT_DIR / f"world-{size}.json"


def migration_head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def fingerprint(size: Size) -> str:
    document = {"size": asdict(size), "head": migration_head(), "seeder": SEEDER_VERSION}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


@contextmanager
def _phase(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    log.info("%-34s %7.2f s", label, time.perf_counter() - started)


# --- the database ------------------------------------------------------------------


def _server() -> AsyncEngine:
    return create_async_engine(
        make_url(SERVER_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )


async def database_exists(name: str) -> bool:
    server = _server()
    try:
        async with server.connect() as conn:
            found = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
    finally:
        await server.dispose()
    return found is not None


async def _recreate(name: str) -> None:
    server = _server()
    try:
        async with server.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await server.dispose()


async def database_size(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            size = await conn.scalar(text("SELECT pg_database_size(current_database())"))
    finally:
        await engine.dispose()
    return int(size or 0)


# --- tenancy, through the services ----------------------------------------------------


@dataclass(frozen=True)
class _Tenancy:
    admin_id: UUID
    workspace_ids: list[UUID]
    api_token: str
    ingestion_token: str


async def _tenancy(db: Database, workspaces: int) -> _Tenancy:
    actor = Actor.system(request_id="bench.seed")
    async with db.transaction(NO_TENANT, write=True) as session:
        bind_actor(session, actor)
        made = await tenancy.bootstrap_organization(
            session,
            org_slug=ORG_SLUG,
            name="Bench Agency",
            kind=OrganizationKind.AGENCY,
            admin_email=ADMIN_EMAIL,
            workspace_name=_workspace_name(0),
        )
    operator = Operator(user_id=made.admin.id, email=made.admin.email)
    access = await load_access(db, operator)
    ids = [made.workspace.id]
    async with db.transaction(access.binding(), write=True) as session:
        bind_actor(session, actor)
        for n in range(1, workspaces):
            workspace = await tenancy.create_workspace(
                session, access, CreateWorkspace(made.organization.id, _workspace_name(n))
            )
            ids.append(workspace.id)
    access = await load_access(db, operator)
    assert set(access.workspace_roles) == set(ids)
    async with db.transaction(access.binding(), write=True) as session:
        bind_actor(session, actor)
        issued = await tenancy.create_api_token(session, access, CreateApiToken(name="bench"))
    async with db.transaction(access.binding(), write=True) as session:
        bind_actor(session, actor)
        feed = await ingestion.create_token(session, access, ids[0], "bench feed")
    return _Tenancy(made.admin.id, ids, issued.plaintext, feed.secret)


def _workspace_name(n: int) -> str:
    return f"Client {n:03d}"


# --- structure and feedback, set-based as the owner ------------------------------------

_TEMP_TABLES = """
CREATE TEMP TABLE bench_ws (n int PRIMARY KEY, id uuid NOT NULL);
CREATE TEMP TABLE bench_map (ws_n int, ws uuid, m int, id uuid, PRIMARY KEY (ws_n, m));
CREATE TEMP TABLE bench_stage (ws uuid, map uuid, ws_n int, m int, s int, id uuid);
CREATE TEMP TABLE bench_tp (
    ws_n int, local int, ws uuid, map uuid, stage uuid, m int, s int, t int, id uuid,
    event text, emotion int, PRIMARY KEY (ws_n, local)
)
"""

_FILL_TEMP = [
    """
    INSERT INTO bench_ws (n, id)
    SELECT CAST(u.n AS int) - 1, u.id FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS u(id, n)
    """,
    """
    INSERT INTO bench_map (ws_n, ws, m, id)
    SELECT w.n, w.id, m, gen_random_uuid()
    FROM bench_ws AS w, generate_series(0, CAST(:maps AS int) - 1) AS m
    """,
    """
    INSERT INTO bench_stage (ws, map, ws_n, m, s, id)
    SELECT mp.ws, mp.id, mp.ws_n, mp.m, s, gen_random_uuid()
    FROM bench_map AS mp, generate_series(0, CAST(:stages AS int) - 1) AS s
    """,
    """
    INSERT INTO bench_tp (ws_n, local, ws, map, stage, m, s, t, id, event, emotion)
    SELECT st.ws_n, (st.m * CAST(:stages AS int) + st.s) * CAST(:tps AS int) + t,
           st.ws, st.map, st.id, st.m, st.s, t, gen_random_uuid(),
           'bench.' || st.ws_n || '.' || st.m || '.' || st.s || '.' || t,
           (st.ws_n * 7 + st.m * 3 + st.s * 5 + t * 11) % 5 - 2
    FROM bench_stage AS st, generate_series(0, CAST(:tps AS int) - 1) AS t
    """,
    "ANALYZE bench_ws",
    "ANALYZE bench_map",
    "ANALYZE bench_stage",
    "ANALYZE bench_tp",
]

_STRUCTURE = [
    """
    INSERT INTO journey_maps (workspace_id, id, title, description, objectives, status,
                              scenario, departments, version, created_by, updated_by,
                              created_at, updated_at)
    SELECT ws, id, 'Journey ' || lpad(CAST(m AS text), 2, '0'),
           'How client ' || ws_n || ' customers get from first sight to fan (map ' || m || ').',
           '["Fewer drop-offs", "Higher NPS"]', 'ACTIVE', 'CURRENT_STATE',
           '["Marketing", "Digital", "Support"]', 1, :admin, :admin, :now, :now
    FROM bench_map ORDER BY ws_n, m
    """,
    """
    INSERT INTO stages (workspace_id, id, journey_map_id, position, name, description,
                        customer_goals, questions)
    SELECT ws, id, map, s, 'Stage ' || s, 'What happens in stage ' || s || '.',
           '["Get it done"]', '[]'
    FROM bench_stage ORDER BY ws_n, m, s
    """,
    """
    INSERT INTO touchpoints (workspace_id, id, journey_map_id, stage_id, position, name,
                             description, channel, device, customer_actions, customer_goals,
                             questions, emotion, moment_of_truth, owning_department,
                             match_keys)
    SELECT ws, id, map, stage, t, 'Touchpoint ' || s || '.' || t,
           'Step ' || t || ' of stage ' || s || '.',
           (ARRAY['WEB', 'MOBILE_APP', 'SOCIAL', 'EMAIL', 'PHONE', 'SMS', 'CHAT', 'IN_APP',
                  'IN_STORE', 'EVENT', 'MAIL'])[1 + (s * 12 + t) % 11],
           (ARRAY[NULL, 'SMARTPHONE', 'DESKTOP', 'TABLET'])[1 + (s + t) % 4],
           '["Look around", "Decide"]', '[]', '[]', emotion, (s + t) % 6 = 0,
           (ARRAY['Marketing', 'Sales', 'Digital', 'Support', 'Operations'])[1 + s % 5],
           jsonb_build_object('event_names', jsonb_build_array(event),
                              'url_patterns', '[]'::jsonb, 'survey_ids', '[]'::jsonb)
    FROM bench_tp ORDER BY ws_n, local
    """,
    """
    INSERT INTO pain_points (workspace_id, id, touchpoint_id, title, description, severity,
                             status, created_at, updated_at)
    SELECT tp.ws, gen_random_uuid(), tp.id, 'Pain ' || tp.s || '.' || tp.t || '.' || p,
           'Customers complain here.',
           (ARRAY['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'])[1 + (tp.m + tp.s + tp.t + p) % 4],
           CASE WHEN (tp.t + p) % 8 = 7 THEN 'RESOLVED' ELSE 'OPEN' END,
           CAST(:now AS timestamptz) + p * interval '1 microsecond',
           CAST(:now AS timestamptz) + p * interval '1 microsecond'
    FROM bench_tp AS tp, generate_series(0, CAST(:pains AS int) - 1) AS p
    ORDER BY tp.ws_n, tp.local, p
    """,
]


# The version-1 revision of every map: what snapshots.snapshot returns, built in SQL
# (tests/bench/test_seed.py holds the two to each other).
_REVISIONS = """
WITH pains AS (
    SELECT workspace_id, touchpoint_id,
           jsonb_agg(jsonb_build_object(
               'id', id, 'title', title, 'description', description, 'severity', severity,
               'status', status,
               -- as to_json_value writes a time: UTC, microseconds, +00:00
               'created_at', to_char(created_at AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00',
               'updated_at', to_char(updated_at AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00'
           ) ORDER BY created_at, id) AS doc
    FROM pain_points GROUP BY workspace_id, touchpoint_id
), points AS (
    SELECT t.workspace_id, t.stage_id,
           jsonb_agg(jsonb_build_object(
               'id', t.id, 'name', t.name, 'description', t.description,
               'channel', t.channel, 'device', t.device,
               'customer_actions', t.customer_actions, 'customer_goals', t.customer_goals,
               'questions', t.questions, 'emotion', t.emotion,
               'moment_of_truth', t.moment_of_truth, 'traffic', t.traffic,
               'owning_department', t.owning_department,
               'match_keys', t.match_keys, 'pain_points', coalesce(p.doc, '[]'::jsonb),
               'opportunities', '[]'::jsonb, 'emotions', '[]'::jsonb) ORDER BY t.position) AS doc
    FROM touchpoints AS t
    LEFT JOIN pains AS p ON p.workspace_id = t.workspace_id AND p.touchpoint_id = t.id
    GROUP BY t.workspace_id, t.stage_id
), steps AS (
    SELECT s.workspace_id, s.journey_map_id,
           jsonb_agg(jsonb_build_object(
               'id', s.id, 'name', s.name, 'description', s.description,
               'customer_goals', s.customer_goals, 'questions', s.questions,
               'touchpoints', coalesce(t.doc, '[]'::jsonb)) ORDER BY s.position) AS doc
    FROM stages AS s
    LEFT JOIN points AS t ON t.workspace_id = s.workspace_id AND t.stage_id = s.id
    GROUP BY s.workspace_id, s.journey_map_id
)
INSERT INTO journey_map_revisions (workspace_id, id, journey_map_id, version, action,
                                   snapshot, created_at, created_by)
SELECT m.workspace_id, gen_random_uuid(), m.id, m.version, 'journey_map.create',
       jsonb_build_object(
           'title', m.title, 'description', m.description, 'objectives', m.objectives,
           'status', m.status, 'scenario', m.scenario, 'departments', m.departments,
           'personas', '[]'::jsonb, 'stages', coalesce(s.doc, '[]'::jsonb)),
       m.created_at, m.created_by
FROM journey_maps AS m
LEFT JOIN steps AS s ON s.workspace_id = m.workspace_id AND s.journey_map_id = m.id
"""

# One row per item of the feed: n is the arrival order; ws_n/j which workspace it is for
# and its ordinal there; tp the touchpoint (round-robin in the workspace) and k the round,
# which moves the measure kind; h a well-mixed hash of n for noise.
_FEEDBACK = """
INSERT INTO feedback (workspace_id, id, source, external_id, channel, journey_map_id,
                      stage_id, touchpoint_id, persona_id, measure, measure_value, text,
                      sentiment, sentiment_status, tags, customer_ref, event_name, url,
                      survey_id, occurred_at, received_at)
SELECT tp.ws, gen_random_uuid(),
       (ARRAY['SURVEY', 'SURVEY', 'SURVEY', 'REVIEW', 'SUPPORT_TICKET', 'SOCIAL',
              'ANALYTICS'])[1 + (f.h / 7) % 7],
       'bench-' || f.n, NULL, tp.map, tp.stage, tp.id, NULL,
       (ARRAY['CSAT', 'NPS', 'CES', 'RATING'])[1 + v.kind],
       CASE v.kind WHEN 0 THEN 1 + (v.q + 1) / 2 WHEN 1 THEN (v.q * 10 + 4) / 8
                   WHEN 2 THEN 1 + (v.q * 6 + 4) / 8 WHEN 3 THEN 1 + (v.q + 1) / 2 END,
       CASE WHEN v.felt THEN (ARRAY['Awful, I gave up', 'Really frustrating',
                                    'Slow and confusing', 'Not great', 'It was fine',
                                    'Did what I needed', 'Quick and easy',
                                    'Great service', 'Loved it, excellent'])[1 + v.q]
            ELSE '' END,
       CASE WHEN v.felt THEN greatest(-1.0, least(1.0,
                round((v.q - 4) / 4.0 + ((f.h / 5) % 21 - 10) / 100.0, 2))) END,
       CASE WHEN v.felt THEN 'SCORED' ELSE 'UNSCORED' END,
       '[]', 'cust-' || (f.h % 50000), tp.event, NULL, NULL,
       v.occurred, least(v.occurred + (f.h % 300) * interval '1 second', CAST(:now AS timestamptz))
FROM (
    SELECT n, (n / :batch) % :workspaces AS ws_n,
           (n / (:batch * :workspaces)) * :batch + n % :batch AS j,
           hashint8(n) & 2147483647 AS h
    FROM generate_series(CAST(0 AS bigint), CAST(:rows AS bigint) - 1) AS n
) AS f
JOIN bench_tp AS tp ON tp.ws_n = f.ws_n AND tp.local = f.j % :per_workspace
CROSS JOIN LATERAL (
    SELECT CASE WHEN (f.j / :per_workspace + tp.local) % 5 < 4
                THEN (f.j / :per_workspace + tp.local) % 5 END AS kind,
           (tp.emotion + 2) + f.h % 5 AS q,
           (f.j / :per_workspace + tp.local) % 5 = 4 OR f.n % 6 = 0 AS felt,
           CAST(:now AS timestamptz) - greatest(60.0,
               (CAST(:rows AS bigint) - f.n) * (:days * 86400.0 / :rows) - f.h % 3600
           ) * interval '1 second' AS occurred
) AS v
"""


async def _run(conn: AsyncConnection, statement: str, **params: Any) -> None:
    await conn.execute(text(statement), params)


async def _structure(
    conn: AsyncConnection, size: Size, parts: _Tenancy, now: datetime
) -> tuple[list[WorkspaceInfo], str, UUID]:
    for statement in _TEMP_TABLES.split(";"):
        await _run(conn, statement)
    counts = {
        "maps": size.maps_per_workspace,
        "stages": size.stages_per_map,
        "tps": size.touchpoints_per_stage,
    }
    params = {"ids": parts.workspace_ids, **counts}
    for statement in _FILL_TEMP:
        await conn.execute(text(statement), _used(statement, params))
    common = {
        "admin": parts.admin_id,
        "now": now,
        "stages": size.stages_per_map,
        "pains": size.pain_points_per_touchpoint,
    }
    for statement in _STRUCTURE:
        await conn.execute(text(statement), _used(statement, common))
    with _phase("version-1 revisions"):
        await _run(conn, _REVISIONS)
    rows = (await conn.execute(text("SELECT ws_n, id FROM bench_map ORDER BY ws_n, m"))).all()
    maps: dict[int, list[UUID]] = {}
    for ws_n, map_id in rows:
        maps.setdefault(ws_n, []).append(map_id)
    workspaces = [WorkspaceInfo(ws, maps[n]) for n, ws in enumerate(parts.workspace_ids)]
    hot = (
        await conn.execute(
            text("SELECT event, id FROM bench_tp WHERE ws_n = 0 AND m = 0 AND s = 0 AND t = 0")
        )
    ).one()
    return workspaces, hot.event, hot.id


def _used(statement: str, params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if f":{k}" in statement}


async def _feedback(conn: AsyncConnection, size: Size, now: datetime) -> None:
    """Load feedback with its indexes and unique/primary keys rebuilt afterwards."""
    constraints = (
        await conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'feedback'::regclass AND contype IN ('p', 'u') ORDER BY conname"
            )
        )
    ).all()
    indexes = (
        await conn.execute(
            text(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index AS x "
                "JOIN pg_class AS i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = 'feedback'::regclass AND NOT EXISTS "
                "(SELECT FROM pg_constraint AS c WHERE c.conindid = i.oid) ORDER BY i.relname"
            )
        )
    ).all()
    for name, _ in indexes:
        await _run(conn, f'DROP INDEX "{name}"')
    for name, _ in constraints:
        await _run(conn, f'ALTER TABLE feedback DROP CONSTRAINT "{name}"')
    with _phase(f"{size.feedback:,} feedback rows"):
        await conn.execute(
            text(_FEEDBACK),
            {
                "rows": size.feedback,
                "batch": FEED_BATCH,
                "workspaces": size.workspaces,
                "per_workspace": size.touchpoints_per_workspace,
                "days": DAYS,
                "now": now,
            },
        )
    with _phase("feedback keys and indexes"):
        for name, definition in constraints:
            await _run(conn, f'ALTER TABLE feedback ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            await _run(conn, definition)
    # The triggers that add each workspace's count parts do not fire in replica mode.
    await _run(
        conn,
        "INSERT INTO feedback_count_parts (workspace_id, id, items)"
        " SELECT workspace_id, gen_random_uuid(), count(*) FROM feedback GROUP BY workspace_id",
    )


async def _fill(
    owner_url: str, size: Size, parts: _Tenancy, now: datetime
) -> tuple[list[WorkspaceInfo], str, UUID]:
    engine = create_async_engine(owner_url)
    try:
        async with engine.connect() as conn, conn.begin():
            # This transaction only: ids here are consistent by construction, so the
            # foreign keys need no checking row by row, and a crash means a reseed anyway.
            for setting in (
                "SET LOCAL session_replication_role = replica",
                "SET LOCAL synchronous_commit = off",
                "SET LOCAL maintenance_work_mem = '1GB'",
                "SET LOCAL work_mem = '256MB'",
            ):
                await _run(conn, setting)
            with _phase("structure, revisions included"):
                found = await _structure(conn, size, parts, now)
            await _feedback(conn, size, now)
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            with _phase("vacuum, analyze"):
                await _run(autocommit, "VACUUM (ANALYZE)")
    finally:
        await engine.dispose()
    return found


# --- the health pass ------------------------------------------------------------------


async def _full_pass(url: str) -> float:
    """Every workspace's full pass in turn, each in its own transaction bound to that one
    workspace, on the application role: what workers.actors.recalculate_all_health does
    for each workspace Background.recalculate_all_health enqueues."""
    db = Database(url, app_role=APP_ROLE, pool_size=5)
    try:
        started = time.perf_counter()
        async with db.transaction(NO_TENANT) as session:
            ids = (await session.scalars(select(Workspace.id))).all()
        for workspace_id in ids:
            binding = TenantBinding(frozenset({workspace_id}))
            async with db.transaction(binding, write=True) as session:
                bind_actor(session, Actor.system(request_id="health:full"))
                await recalculate.recalculate(session, workspace_id, full=True)
        return time.perf_counter() - started
    finally:
        await db.dispose()


async def full_recalculation(world: World) -> float:
    """Seconds for a full health pass of every workspace, as the nightly job runs it."""
    return await _full_pass(world.database_url)


# --- seeding --------------------------------------------------------------------------


async def _saved(size: str) -> World | None:
    path = world_file(size)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        world = World.from_json(path.read_text())
    except (ValueError, KeyError, TypeError):
        return None
    if data.get("fingerprint") != fingerprint(SIZES[size]):
        return None
    if not await database_exists(make_url(world.database_url).database or ""):
        return None
    engine = create_async_engine(world.database_url)
    try:
        async with engine.connect() as conn:
            head = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            workspaces = await conn.scalar(text("SELECT count(*) FROM workspaces"))
    except DBAPIError:
        return None
    finally:
        await engine.dispose()
    if head != migration_head() or workspaces != len(world.workspaces):
        return None
    return world


async def build(url: str, size: Size, *, label: str) -> World:
    """Fill the migrated, empty database at ``url`` (its owner's URL) with ``size``."""
    started = time.perf_counter()
    now = utcnow()
    db = Database(url, app_role=APP_ROLE, pool_size=2)
    try:
        with _phase("organization, workspaces, tokens"):
            parts = await _tenancy(db, size.workspaces)
    finally:
        await db.dispose()
    workspaces, hot_event, hot_touchpoint = await _fill(url, size, parts, now)
    seeded = time.perf_counter() - started
    with _phase("full health pass, every workspace"):
        recalc = await _full_pass(url)
    return World(
        size=label,
        database_url=url,
        api_token=parts.api_token,
        ingestion_token=parts.ingestion_token,
        workspaces=workspaces,
        hot_event_name=hot_event,
        hot_touchpoint_id=hot_touchpoint,
        feedback_rows=size.feedback,
        touchpoints=size.touchpoints,
        seeded_seconds=round(seeded, 2),
        recalc_seconds=round(recalc, 2),
    )


async def seed(size: str, *, reseed: bool = False) -> World:
    """The World of ``size``: the saved one if still valid (unless ``reseed``), else built."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: one of {', '.join(SIZES)}")
    if not reseed and (saved := await _saved(size)) is not None:
        return saved
    path = world_file(size)
    path.unlink(missing_ok=True)  # a half-built database must never pass for a seeded one
    started = time.perf_counter()
    name = database_name(size)
    await _recreate(name)
    url = database_url(name)
    await asyncio.to_thread(upgrade, url)
    migrated = time.perf_counter() - started
    world = await build(url, SIZES[size], label=size)
    world = replace(world, seeded_seconds=round(world.seeded_seconds + migrated, 2))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    document = {**json.loads(world.to_json()), "fingerprint": fingerprint(SIZES[size])}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return world


async def _main(size: str, reseed: bool) -> None:
    started = time.perf_counter()
    reused = not reseed and await _saved(size) is not None
    world = await seed(size, reseed=reseed)
    took = time.perf_counter() - started
    megabytes = await database_size(world.database_url) / 1024 / 1024
    spec = SIZES[size]
    print(
        f"{size}: {len(world.workspaces)} workspaces, {spec.maps:,} maps, "
        f"{world.touchpoints:,} touchpoints, {spec.pain_points:,} pain points, "
        f"{world.feedback_rows:,} feedback; seeded in {world.seeded_seconds:.1f} s, "
        f"full health pass {world.recalc_seconds:.1f} s; {megabytes:,.0f} MB; "
        f"{'reused' if reused else 'built'} in {took:.1f} s -> {world_file(size)}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--reseed", action="store_true", help="drop and rebuild the database")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    asyncio.run(_main(args.size, args.reseed))
