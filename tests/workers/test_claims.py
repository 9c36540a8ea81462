"""Periods claimed in the database: the first claim of a job's period wins, a period given
back can be claimed again, and housekeeping prunes claims a week old. As the application's
role on Postgres (no superuser, no table owner)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.models import ScheduleClaim
from backend.settings import Settings
from workers.background import Background
from workers.schedule import DatabaseClaims


async def _claimed(owner: AsyncEngine) -> dict[tuple[str, int], str]:
    async with owner.connect() as conn:
        rows = await conn.execute(
            select(ScheduleClaim.job, ScheduleClaim.period, ScheduleClaim.claimed_by)
        )
        return {(job, period): by for job, period, by in rows.all()}


async def _forget_claims(owner: AsyncEngine) -> None:
    async with owner.begin() as conn:
        await conn.execute(delete(ScheduleClaim))


async def test_a_period_is_claimed_once_whoever_asks(
    database: Database, inspector_engine: AsyncEngine
) -> None:
    await _forget_claims(inspector_engine)
    first, second = DatabaseClaims(database), DatabaseClaims(database)
    second.owner = "elsewhere:1"
    assert await first.claim("health-full:86400", 7) is True
    assert await second.claim("health-full:86400", 7) is False
    assert await first.claim("health-full:86400", 7) is False  # nor twice by its claimer
    # Another period, another job: claims of their own.
    assert await second.claim("health-full:86400", 8) is True
    assert await second.claim("housekeeping:3600", 7) is True
    assert await _claimed(inspector_engine) == {
        ("health-full:86400", 7): first.owner,
        ("health-full:86400", 8): "elsewhere:1",
        ("housekeeping:3600", 7): "elsewhere:1",
    }


async def test_a_period_given_back_can_be_claimed_again(
    database: Database, inspector_engine: AsyncEngine
) -> None:
    await _forget_claims(inspector_engine)
    first, second = DatabaseClaims(database), DatabaseClaims(database)
    second.owner = "elsewhere:1"
    assert await first.claim("health-full:86400", 7)
    await second.release("health-full:86400", 7)  # not its claim: it stays
    assert await second.claim("health-full:86400", 7) is False
    await first.release("health-full:86400", 7)
    assert await second.claim("health-full:86400", 7) is True


async def test_housekeeping_prunes_claims_a_week_old(
    settings: Settings, database: Database, inspector_engine: AsyncEngine
) -> None:
    await _forget_claims(inspector_engine)
    now = utcnow()
    async with inspector_engine.begin() as conn:
        await conn.execute(
            insert(ScheduleClaim),
            [
                {"job": "health-full:86400", "period": 1, "claimed_by": "a:1",
                 "claimed_at": now - timedelta(days=8)},
                {"job": "health-full:86400", "period": 2, "claimed_by": "a:1",
                 "claimed_at": now - timedelta(days=6)},
            ],
        )  # fmt: skip
    background = Background(settings, database, run_workers=False)
    try:
        await background.housekeep()
    finally:
        background.broker.close()
    assert await _claimed(inspector_engine) == {("health-full:86400", 2): "a:1"}
