"""Sign-in attempts do not pile up: the schedule deletes those older than their lifetime."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.sso import ATTEMPT_TTL
from backend.db.engine import Database
from backend.db.types import utcnow
from backend.models import SsoLoginAttempt
from backend.settings import Settings
from tests.fixtures.background import eventually
from tests.fixtures.rogue_idp import CLIENT_ID, CLIENT_SECRET, RogueIdP
from tests.fixtures.sso import browser_for, create_connection
from tests.fixtures.tenants import Tenant
from workers.background import Background

ATTEMPTS = SsoLoginAttempt.__table__


async def _states(owner: AsyncEngine) -> set[str]:
    async with owner.connect() as conn:
        return set((await conn.scalars(select(ATTEMPTS.c.state))).all())


async def test_the_schedule_deletes_expired_sign_in_attempts_and_keeps_live_ones(
    settings: Settings,
    database: Database,
    client: httpx.AsyncClient,
    tenant_a: Tenant,
    rogue_idp: RogueIdP,
    inspector_engine: AsyncEngine,
) -> None:
    made = await create_connection(
        client,
        tenant_a,
        issuer=rogue_idp.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        allowed_domains=["acme.example"],
    )
    assert made["errors"] == [], made
    async with browser_for(settings, database) as browser:
        for _ in range(5):  # anonymous hits, never finished
            assert (await browser.start(tenant_a.slug)).status_code == 302
    states = await _states(inspector_engine)
    assert len(states) == 5
    old, live = sorted(states)[:3], sorted(states)[3:]
    async with inspector_engine.begin() as conn:
        await conn.execute(
            update(ATTEMPTS)
            .where(ATTEMPTS.c.state.in_(old))
            .values(created_at=utcnow() - ATTEMPT_TTL - ATTEMPT_TTL / 10)
        )

    schedule = settings.model_copy(
        update={"broker_url": "memory://", "audit_verify_interval_seconds": 0.2}
    )
    async with Background(schedule, database, run_workers=False):
        await eventually(lambda: _only(inspector_engine, set(live)))

    async with inspector_engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(ATTEMPTS)) == 2


async def _only(owner: AsyncEngine, expected: set[str]) -> bool:
    return await _states(owner) == expected
