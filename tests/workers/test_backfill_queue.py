"""Backfill steps travel on a queue of their own, so a long backfill never waits ahead of
the health passes of every tenant, and that queue is worked by the embedded broker's
workers as by `waypost worker`'s."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.health import backfill
from backend.models import HealthRequest
from backend.settings import Settings
from tests.fixtures.background import eventually
from tests.fixtures.databases import configured_broker_url
from tests.fixtures.tenants import Tenant
from tests.health.worlds import build_world
from workers.background import Background

BROKERS = sorted({"memory://", configured_broker_url()})


@pytest.mark.parametrize("broker_url", BROKERS)
async def test_backfill_steps_have_their_own_queue_and_it_is_worked(
    broker_url: str, settings: Settings, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    async with database.transaction(world.binding(), write=True) as session:
        await backfill.request(session, world.workspace_id, utcnow() - timedelta(days=40))
    worker_settings = settings.model_copy(
        update={"broker_url": broker_url, "outbox_redeliver_after_seconds": 600}
    )
    async with Background(worker_settings, database, run_workers=True) as running:
        actors = running.actors
        assert actors.backfill_health.queue_name != actors.recalculate_health.queue_name
        assert actors.backfill_health.queue_name != actors.recalculate_all_health.queue_name
        actors.backfill_health.send(str(world.workspace_id))

        async def done() -> bool:
            async with database.transaction(world.binding()) as session:
                return not (await session.scalars(select(HealthRequest))).all()

        await eventually(done, within=60)
