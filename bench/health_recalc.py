"""How long a health pass takes on Postgres with many feedback rows.

    .venv/bin/python bench/health_recalc.py --rows 1000000

Creates a fresh database (default ``waypost_bench``), migrates it, builds one workspace
with a map of 8 stages x 12 touchpoints, inserts ``--rows`` feedback rows with one
``INSERT ... SELECT generate_series`` (spread over 180 days, every measure kind, a third
with sentiment), then times, as the application role under row-level security:
a full pass (evidence for every touchpoint + every score), and an incremental pass
after one touchpoint's feedback changed. Each is run ``--repeat`` times; the median is
reported with the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from uuid import UUID, uuid4

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.entrypoints.migrate import upgrade
from backend.health import recalculate
from backend.models import JourneyMap, Stage, Touchpoint
from backend.tenancy import service
from backend.vocabulary.journeys import MapStatus
from backend.vocabulary.roles import OrganizationKind

SEED = """
INSERT INTO feedback (workspace_id, id, source, external_id, touchpoint_id, measure,
                      measure_value, text, sentiment, sentiment_status, placement,
                      placement_candidates, tags, occurred_at, received_at)
SELECT CAST(:ws AS uuid), gen_random_uuid(), 'SURVEY', 'bench-' || n,
       (CAST(:touchpoints AS uuid[]))[1 + (n % 96)],
       (ARRAY['CSAT','NPS','CES','RATING'])[1 + (n % 4)],
       CASE n % 4 WHEN 1 THEN n % 11 WHEN 2 THEN 1 + n % 7 ELSE 1 + n % 5 END,
       '', CASE WHEN n % 3 = 0 THEN ((n % 200) - 100) / 100.0 END,
       CASE WHEN n % 3 = 0 THEN 'SCORED' ELSE 'UNSCORED' END, 'LINKED', '[]', '[]',
       now() - (n % 180) * interval '1 day' - (n % 86400) * interval '1 second', now()
FROM generate_series(1, :rows) AS n
"""


async def _world(db: Database) -> tuple[UUID, list[UUID]]:
    async with db.transaction(NO_TENANT, write=True) as session:
        bind_actor(session, Actor.system())
        made = await service.bootstrap_organization(
            session,
            org_slug=f"bench{uuid4().hex[:8]}",
            name="Bench",
            kind=OrganizationKind.COMPANY,
            admin_email="bench@bench.example",
        )
    ws = made.workspace.id
    touchpoints: list[UUID] = []
    async with db.transaction(TenantBinding(frozenset({ws})), write=True) as session:
        journey = JourneyMap(workspace_id=ws, title="Bench", status=MapStatus.ACTIVE)
        session.add(journey)
        await session.flush()
        for s in range(8):
            stage = Stage(workspace_id=ws, journey_map_id=journey.id, position=s, name=f"S{s}")
            session.add(stage)
            await session.flush()
            for t in range(12):
                point = Touchpoint(
                    workspace_id=ws,
                    journey_map_id=journey.id,
                    stage_id=stage.id,
                    position=t,
                    name=f"T{s}.{t}",
                    emotion=(s + t) % 5 - 2,
                    moment_of_truth=t == 0,
                )
                session.add(point)
                await session.flush()
                touchpoints.append(point.id)
    return ws, touchpoints


async def _timed(db: Database, ws: UUID, *, full: bool, touch: UUID | None) -> float:
    binding = TenantBinding(frozenset({ws}))
    if touch is not None:
        async with db.transaction(binding, write=True) as session:
            await recalculate.request(session, ws, recalculate.FEEDBACK_RECEIVED, [touch])
    started = time.perf_counter()
    async with db.transaction(binding, write=True) as session:
        await recalculate.recalculate(session, ws, full=full)
    return time.perf_counter() - started


async def main(owner_url: str, name: str, rows: int, repeat: int) -> None:
    url = make_url(owner_url)
    server = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with server.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await server.dispose()
    target = url.set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade, target)
    db = Database(target, app_role="waypost_app")
    try:
        ws, touchpoints = await _world(db)
        owner = create_async_engine(target)
        started = time.perf_counter()
        async with owner.begin() as conn:
            await conn.execute(text(SEED), {"ws": ws, "touchpoints": touchpoints, "rows": rows})
            await conn.execute(text("ANALYZE feedback"))
        await owner.dispose()
        print(f"seeded {rows:,} feedback rows in {time.perf_counter() - started:.1f} s")
        for label, full, touch in (
            ("full pass", True, None),
            ("incremental pass (1 touchpoint)", False, touchpoints[0]),
        ):
            runs = [await _timed(db, ws, full=full, touch=touch) for _ in range(repeat)]
            print(
                f"{label:34s} median {statistics.median(runs):6.2f} s "
                f"(min {min(runs):.2f}, max {max(runs):.2f}, n={repeat})"
            )
    finally:
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--database", default="waypost_bench")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.database, args.rows, args.repeat))
