"""`waypost demo`: an agency that looks lived in, built through the real services."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.audit.reports import all_chains, verify_chains
from backend.db.engine import Database
from backend.db.scoping import NO_TENANT, TenantBinding
from backend.entrypoints import demo
from backend.initiatives.outcome import outcome_of
from backend.models import (
    Feedback,
    HealthScore,
    HealthSnapshot,
    HealthSubject,
    Initiative,
    JourneyMap,
    Metric,
    Organization,
    Persona,
    Stage,
    Workspace,
)
from backend.vocabulary.initiatives import InitiativeStatus
from backend.vocabulary.roles import OrganizationKind
from tests.cli.test_cli import TOKEN, WAYPOST


async def test_the_demo_seeds_a_living_agency(
    database: Database, inspector_engine: AsyncEngine
) -> None:
    assert not await demo.seeded(database)
    steps: list[str] = []
    token = await demo.seed_demo(database, progress=steps.append)
    assert token.startswith("wp_")
    assert await demo.seeded(database)
    assert steps  # it says what it is doing

    async with inspector_engine.connect() as conn:

        async def count(model: type, *where: object) -> int:
            return int(await conn.scalar(select(func.count()).select_from(model).where(*where)))

        [kind] = (await conn.execute(select(Organization.kind))).scalars().all()
        assert kind == OrganizationKind.AGENCY
        assert await count(Workspace) >= 2
        assert await count(Persona) >= 4
        assert await count(Feedback) >= 10_000
        # Match keys attached every item; sentiment scored the ones with text.
        assert await count(Feedback, Feedback.touchpoint_id.is_(None)) == 0
        assert await count(Feedback, Feedback.text != "", Feedback.sentiment.is_(None)) == 0
        stages = (await conn.execute(select(Stage.name, Stage.journey_map_id))).all()
        per_map = Counter(map_id for _, map_id in stages)
        assert set(per_map.values()) == {5}  # the five-stage template
        assert await count(JourneyMap) == len(per_map) >= 2
        assert await count(Metric) >= 2
        statuses = Counter((await conn.execute(select(Initiative.status))).scalars().all())
        assert statuses[InitiativeStatus.SHIPPED] >= 1
        assert sum(statuses.values()) >= 4
        workspaces = await count(HealthScore, HealthScore.subject_type == HealthSubject.WORKSPACE)
        assert workspaces == 2
        snapshots = await count(
            HealthSnapshot, HealthSnapshot.subject_type == HealthSubject.JOURNEY_MAP
        )
        assert snapshots >= 2 * demo.HISTORY_WEEKS
        # Feedback is spread over months, not dumped at one moment.
        oldest, newest = (
            await conn.execute(
                select(func.min(Feedback.occurred_at), func.max(Feedback.occurred_at))
            )
        ).one()
    assert str(newest) > str(oldest)

    await _the_story_holds(database)

    # Everything it did is in an audit trail that verifies.
    reports = [r async for r in verify_chains(database, await all_chains(database))]
    assert reports
    assert all(r.ok for r in reports), [r.problem for r in reports if not r.ok]


async def _the_story_holds(database: Database) -> None:
    """The three shipped initiatives of each client read as the demo tells them: one
    worked, one did not, and one only looks as if it did (it shipped as the holiday
    season lifted every touchpoint, so its comparison group rose as much)."""
    async with database.transaction(NO_TENANT) as session:
        workspace_ids = frozenset((await session.scalars(select(Workspace.id))).all())
    verdicts: dict[str, list[tuple[float, float, bool]]] = {}
    async with database.transaction(TenantBinding(workspace_ids)) as session:
        shipped = (
            await session.scalars(
                select(Initiative).where(Initiative.status == InitiativeStatus.SHIPPED)
            )
        ).all()
        for initiative in shipped:
            found = await outcome_of(session, initiative)
            assert found is not None
            assert found.change is not None
            assert found.analysis.estimate is not None
            verb = initiative.title.split()[0]
            verdicts.setdefault(verb, []).append(
                (found.change, found.analysis.estimate, found.significant)
            )
    assert sorted(verdicts) == ["Fix", "Redesign", "Refresh"]
    assert [(e > 10, s) for _, e, s in verdicts["Fix"]] == [(True, True)] * 2  # it worked
    assert [(abs(c) < 10, s) for c, _, s in verdicts["Redesign"]] == [(True, False)] * 2
    # The season, not the work: a big rise that the comparison group shared.
    assert [(c > 10, s) for c, _, s in verdicts["Refresh"]] == [(True, False)] * 2


def test_the_command_seeds_once_and_prints_a_token(tmp_path: Path) -> None:
    env = {**os.environ, "WAYPOST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'd.db'}"}
    first = subprocess.run(
        [*WAYPOST, "demo"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert first.returncode == 0, first.stderr
    assert TOKEN.fullmatch(first.stdout.strip())
    assert "Globex Telecom" in first.stderr  # progress, on stderr
    again = subprocess.run(
        [*WAYPOST, "demo"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert again.returncode == 2
    assert "exists already" in again.stderr
