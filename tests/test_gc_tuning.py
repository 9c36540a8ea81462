"""The collector is set for bursts (backend/gc_tuning.py): thresholds raised while a
burst runs, restored when the last of overlapping ones ends; a health pass is one."""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest

from backend import gc_tuning
from backend.db.engine import Database
from backend.health import model, recalculate
from tests.fixtures.tenants import Tenant
from tests.health.worlds import build_world


def test_the_thresholds_are_raised_for_the_burst_and_restored_after() -> None:
    before = gc.get_threshold()
    with gc_tuning.fewer_collections():
        assert gc.get_threshold() == (gc_tuning.YOUNG_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before


def test_overlapping_bursts_restore_only_when_the_last_ends() -> None:
    before = gc.get_threshold()
    first_in, second_done = threading.Event(), threading.Event()

    def second() -> None:
        first_in.wait()
        with gc_tuning.fewer_collections():
            pass
        second_done.set()

    other = threading.Thread(target=second)
    other.start()
    with gc_tuning.fewer_collections():
        first_in.set()
        second_done.wait(5)
        # The other burst ended inside this one: still raised.
        assert gc.get_threshold()[0] == gc_tuning.YOUNG_THRESHOLD
    other.join()
    assert gc.get_threshold() == before


async def test_a_health_pass_runs_with_fewer_collections(
    database: Database, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0])
    seen: list[int] = []
    compute = model.compute

    def watched(*args: Any) -> model.WorkspaceHealth:
        seen.append(gc.get_threshold()[0])
        return compute(*args)

    monkeypatch.setattr(model, "compute", watched)
    async with database.transaction(world.binding(), write=True) as session:
        await recalculate.recalculate(session, world.workspace_id, full=True)
    assert seen == [gc_tuning.YOUNG_THRESHOLD]
    assert gc.get_threshold()[0] != gc_tuning.YOUNG_THRESHOLD
