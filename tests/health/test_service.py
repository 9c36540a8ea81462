"""Health's services on a real database: what a pass refreshes, alerts, settings, reviews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.authz.access import Access
from backend.db.engine import Database
from backend.errors import Forbidden, ValidationFailed
from backend.health import alerts, recalculate, service
from backend.health.commands import MarkReviewed, UpdateThresholds
from backend.health.model import Metric
from backend.health.repository.evidence import column_of
from backend.models import AlertKind, HealthAlert, HealthEvidence, HealthSubject
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.service_calls import access_of, audit_trail, outbox_events, writing
from tests.fixtures.tenants import Tenant, add_guest
from tests.health.worlds import World, add_feedback, build_world, days_ago

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def _setup(database: Database, tenant: Tenant) -> tuple[World, Access]:
    world = await build_world(database, tenant.workspace_ids[0])
    return world, await access_of(database, tenant.token)


async def _pass(
    database: Database, world: World, *, full: bool = False
) -> recalculate.PassResult | None:
    async with database.transaction(world.binding(), write=True) as session:
        return await recalculate.recalculate(session, world.workspace_id, full=full, as_of=NOW)


async def _evidence_items(database: Database, world: World) -> dict[UUID, int]:
    """Answers and scored texts in the current window, per subject with evidence."""
    async with database.transaction(world.binding()) as session:
        rows = (await session.scalars(select(HealthEvidence))).all()
    return {row.id: sum(getattr(row, column_of(metric, "n")) for metric in Metric) for row in rows}


async def _rate_all(database: Database, world: World, value: int, times: int = 1) -> None:
    for touchpoint in world.touchpoint_ids:
        for _ in range(times):
            await add_feedback(
                database, world, touchpoint, value=value, occurred_at=days_ago(NOW, 1)
            )


async def test_a_pass_refreshes_only_the_touchpoints_requested(
    database: Database, tenant_a: Tenant
) -> None:
    world, _ = await _setup(database, tenant_a)
    first, second = world.touchpoint_ids[:2]
    await _rate_all(database, world, 4)
    await _pass(database, world, full=True)
    assert await _evidence_items(database, world) == dict.fromkeys(world.touchpoint_ids, 1)

    for touchpoint in (first, second):
        await add_feedback(database, world, touchpoint, value=2, occurred_at=days_ago(NOW, 1))
    async with database.transaction(world.binding(), write=True) as session:
        await recalculate.request(
            session, world.workspace_id, recalculate.FEEDBACK_RECEIVED, [first]
        )
    done = await _pass(database, world)

    assert done is not None
    assert (done.full, done.requests, done.subjects_refreshed) == (False, 1, 1)
    items = await _evidence_items(database, world)
    assert items[first] == 2
    assert items[second] == 1  # its new feedback waits for a request naming it
    assert await _pass(database, world) is None  # the request was taken


async def test_a_structure_change_rescores_without_refreshing_evidence(
    database: Database, tenant_a: Tenant
) -> None:
    world, _ = await _setup(database, tenant_a)
    await _rate_all(database, world, 4)
    await _pass(database, world, full=True)
    async with database.transaction(world.binding(), write=True) as session:
        await recalculate.request(session, world.workspace_id, recalculate.STRUCTURE_CHANGED)
    done = await _pass(database, world)
    assert done is not None
    assert (done.requests, done.subjects_refreshed) == (1, 0)
    assert set(done.health.touchpoints) == set(world.touchpoint_ids)


async def test_an_alert_is_raised_once_per_crossing(
    database: Database, tenant_a: Tenant, inspector_engine: AsyncEngine
) -> None:
    world, _ = await _setup(database, tenant_a)
    await _rate_all(database, world, 1, times=5)

    fell = await _pass(database, world, full=True)
    assert fell is not None
    assert fell.health.workspace is not None
    assert fell.health.workspace.score < alerts.DEFAULT_ALERT_BELOW
    await _pass(database, world, full=True)  # still below: nothing crossed
    await _rate_all(database, world, 5, times=8)
    climbed = await _pass(database, world, full=True)
    assert climbed is not None
    assert climbed.health.workspace is not None
    assert climbed.health.workspace.score >= alerts.DEFAULT_ALERT_BELOW

    async with database.transaction(world.binding()) as session:
        found = (await session.scalars(select(HealthAlert))).all()
    # Touchpoints too, each once each way; stages raise none.
    crossings = [
        (HealthSubject.JOURNEY_MAP, AlertKind.FELL_BELOW),
        (HealthSubject.WORKSPACE, AlertKind.FELL_BELOW),
        (HealthSubject.JOURNEY_MAP, AlertKind.RECOVERED),
        (HealthSubject.WORKSPACE, AlertKind.RECOVERED),
    ]
    for _ in world.touchpoint_ids:
        crossings += [
            (HealthSubject.TOUCHPOINT, AlertKind.FELL_BELOW),
            (HealthSubject.TOUCHPOINT, AlertKind.RECOVERED),
        ]
    assert sorted((a.subject_type, a.kind) for a in found) == sorted(crossings)
    events = await outbox_events(inspector_engine, world.workspace_id, "health.alert")
    assert sorted(e["alert_id"] for e in events) == sorted(str(a.id) for a in found)


async def test_no_alerts_once_alert_below_is_turned_off(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    async with writing(database, access) as session:
        settings = await alerts.update_thresholds(
            session, access, UpdateThresholds(world.workspace_id, alert_below=None)
        )
    assert settings == alerts.Thresholds(alert_below=None)
    await _rate_all(database, world, 1, times=5)
    await _pass(database, world, full=True)
    async with database.transaction(world.binding()) as session:
        assert (await session.scalars(select(HealthAlert))).all() == []


async def test_settings_change_only_what_is_sent_and_are_audited(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    async with writing(database, access) as session:
        await alerts.update_thresholds(
            session, access, UpdateThresholds(world.workspace_id, stale_after_days=30)
        )
    async with writing(database, access) as session:
        found = await alerts.update_thresholds(
            session, access, UpdateThresholds(world.workspace_id, sharp_drop_points=5)
        )
        assert await alerts.thresholds_of(session, world.workspace_id) == found
    assert found == alerts.Thresholds(
        alert_below=alerts.DEFAULT_ALERT_BELOW, stale_after_days=30, sharp_drop_points=5
    )
    trail = [
        c
        for a, _, c in await audit_trail(database, world.workspace_id)
        if a == "health_settings.update"
    ]
    assert trail == [
        {"stale_after_days": {"before": 90, "after": 30}},
        {"sharp_drop_points": {"before": 10.0, "after": 5}},
    ]


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({"alert_below": 101.0}, "alert_below"),
        ({"alert_below": float("nan")}, "alert_below"),
        ({"stale_after_days": 0}, "stale_after_days"),
        ({"sharp_drop_points": 0.0}, "sharp_drop_points"),
    ],
)
async def test_settings_out_of_range_name_the_field_in_snake_case(
    database: Database, tenant_a: Tenant, command: dict[str, float], field: str
) -> None:
    world, access = await _setup(database, tenant_a)
    with pytest.raises(ValidationFailed) as refused:
        async with writing(database, access) as session:
            await alerts.update_thresholds(
                session,
                access,
                UpdateThresholds(world.workspace_id, **command),  # type: ignore[arg-type]
            )
    assert refused.value.field == field


async def test_only_a_workspace_admin_changes_settings_or_recalculates(
    database: Database, tenant_a: Tenant
) -> None:
    world, _ = await _setup(database, tenant_a)
    _, token = await add_guest(
        database, world.workspace_id, "editor@elsewhere.example", WorkspaceRole.EDITOR
    )
    editor = await access_of(database, token)
    with pytest.raises(Forbidden) as refused:
        async with writing(database, editor) as session:
            await alerts.update_thresholds(
                session, editor, UpdateThresholds(world.workspace_id, stale_after_days=7)
            )
    assert refused.value.field == "workspace_id"
    with pytest.raises(Forbidden):
        async with writing(database, editor) as session:
            await service.recalculate_now(session, editor, world.workspace_id)


async def test_recalculating_now_is_a_full_pass_and_audited(
    database: Database, tenant_a: Tenant
) -> None:
    world, access = await _setup(database, tenant_a)
    await _rate_all(database, world, 4)
    async with writing(database, access) as session:
        done = await service.recalculate_now(session, access, world.workspace_id)
    assert done.full
    assert done.subjects_refreshed == len(world.touchpoint_ids)
    trail = [
        c
        for a, _, c in await audit_trail(database, world.workspace_id)
        if a == "health.recalculate"
    ]
    assert trail[0]["touchpoints"]["after"] == len(world.touchpoint_ids)


async def test_a_review_restarts_the_staleness_clock(database: Database, tenant_a: Tenant) -> None:
    world, access = await _setup(database, tenant_a)
    created = NOW - timedelta(days=200)
    assert alerts.staleness(created, None, None, alerts.Thresholds(), NOW).reasons == [
        alerts.StaleReason.NOT_REVIEWED
    ]

    async with writing(database, access) as session:
        review = await alerts.mark_reviewed(session, access, MarkReviewed(world.map_id, "Looked"))
        found = await alerts.map_staleness(session, world.workspace_id, world.map_id)
    assert found.last_reviewed_at == review.reviewed_at
    assert not found.stale
    assert found.review_due_at == review.reviewed_at + timedelta(days=90)
    actions = [
        a for a, s, _ in await audit_trail(database, world.workspace_id) if s == str(world.map_id)
    ]
    assert actions[-1] == "journey_map.review"

    with pytest.raises(ValidationFailed) as too_long:
        async with writing(database, access) as session:
            await alerts.mark_reviewed(session, access, MarkReviewed(world.map_id, "x" * 2001))
    assert too_long.value.field == "note"


async def test_a_subject_that_loses_its_score_keeps_its_standing(
    database: Database, tenant_a: Tenant
) -> None:
    """Between two scores under the threshold a touchpoint had too little evidence for
    one: that is one fall, not two; and coming back above it is a recovery, though the
    score it replaces is empty."""
    world, _ = await _setup(database, tenant_a)
    first = world.touchpoint_ids[0]

    async def answers(value: int, day: datetime) -> None:
        for _ in range(5):
            await add_feedback(database, world, first, value=value, occurred_at=day)

    async def pass_at(moment: datetime) -> float | None:
        async with database.transaction(world.binding(), write=True) as session:
            done = await recalculate.recalculate(
                session, world.workspace_id, full=True, as_of=moment
            )
        assert done is not None
        return done.health.touchpoints[first].score

    await answers(1, NOW - timedelta(days=10))
    assert await pass_at(NOW) == pytest.approx(0.0)  # below 50: FELL_BELOW
    assert await pass_at(NOW + timedelta(days=85)) is None  # the answers left the window
    await answers(1, NOW + timedelta(days=84))
    assert await pass_at(NOW + timedelta(days=86)) == pytest.approx(0.0)  # below: no new alert
    assert await pass_at(NOW + timedelta(days=180)) is None
    await answers(5, NOW + timedelta(days=190))
    recovered = await pass_at(NOW + timedelta(days=191))
    assert recovered is not None
    assert recovered > 50  # RECOVERED

    async with database.transaction(world.binding()) as session:
        found = (
            await session.scalars(
                select(HealthAlert)
                .where(HealthAlert.subject_id == first)
                .order_by(HealthAlert.created_at)
            )
        ).all()
    assert [a.kind for a in found] == [AlertKind.FELL_BELOW, AlertKind.RECOVERED]
