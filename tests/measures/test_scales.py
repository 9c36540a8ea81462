"""Answers read as survey tools read them, in Python and in SQL, against hand-computed numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.measures import sql
from backend.measures.scales import DEFAULT_SCALES, Scale, headline, item_index
from backend.measures.stats import Moments, t_interval, welch, wilson
from backend.models import Feedback, SurveyDefinition
from backend.vocabulary.feedback import FeedbackSource, MeasureKind
from tests.fixtures.tenants import Tenant

CES_LOWER_IS_BETTER = Scale(MeasureKind.CES, 1, 5, higher_is_better=False)
CSAT_TEN = Scale(MeasureKind.CSAT, 1, 10)


def _mean_index(scale: Scale, answers: list[int]) -> float:
    return sum(item_index(scale, a) for a in answers) / len(answers)


def test_nps_is_promoters_minus_detractors() -> None:
    # 5 promoters, 3 passives, 2 detractors of 10: NPS = 50 % - 20 % = 30.
    answers = [10, 9, 9, 10, 9, 8, 7, 7, 6, 0]
    assert headline(
        DEFAULT_SCALES[MeasureKind.NPS], _mean_index(DEFAULT_SCALES[MeasureKind.NPS], answers)
    ) == pytest.approx(30.0)


def test_csat_is_the_top_two_box_share() -> None:
    # 4s and 5s are satisfied: 3 of 5 = 60 %.
    answers = [5, 4, 4, 3, 1]
    assert _mean_index(DEFAULT_SCALES[MeasureKind.CSAT], answers) == pytest.approx(60.0)
    # On a 1-10 scale the top two boxes are 9 and 10.
    assert _mean_index(CSAT_TEN, [10, 9, 8, 8]) == pytest.approx(50.0)


def test_ces_is_the_mean_answer_on_its_own_scale_and_direction() -> None:
    # CES 2.0 (1-7, 7 = it was easy): mean 6, index (6 - 1) / 6.
    ces = DEFAULT_SCALES[MeasureKind.CES]
    assert headline(ces, _mean_index(ces, [7, 6, 5])) == pytest.approx(6.0)
    assert item_index(ces, 7) == 100.0
    assert item_index(ces, 1) == 0.0
    # An old lower-is-better effort scale: 1 = no effort at all is the best answer.
    assert item_index(CES_LOWER_IS_BETTER, 1) == 100.0
    assert headline(
        CES_LOWER_IS_BETTER, _mean_index(CES_LOWER_IS_BETTER, [1, 2, 3])
    ) == pytest.approx(2.0)


def test_intervals_match_hand_computed_values() -> None:
    # Wilson 95 % for 8 of 10: 0.4902 .. 0.9433 (z = 1.95996).
    low, high = wilson(8, 10)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    # t 95 % for 2, 4, 6: mean 4, s = 2, t(2) = 4.3027 -> 4 ± 4.968.
    sample = Moments(3, 12.0, 56.0)
    low, high = t_interval(sample)  # type: ignore[misc]
    assert (round(low, 3), round(high, 3)) == (-0.968, 8.968)
    # Welch: a = (1, 2, 3), b = (4, 6, 8): diff 4, se sqrt(1/3 + 4/3), df = 2.9412.
    difference = welch(Moments(3, 6.0, 14.0), Moments(3, 18.0, 116.0))
    assert difference is not None
    assert difference.estimate == pytest.approx(4.0)
    assert difference.standard_error == pytest.approx((5 / 3) ** 0.5)
    assert difference.df == pytest.approx(2.9412, abs=1e-4)


SCALES = [
    *DEFAULT_SCALES.values(),
    CES_LOWER_IS_BETTER,
    CSAT_TEN,
    Scale(MeasureKind.RATING, 0, 4, higher_is_better=False),
]


async def test_the_sql_item_index_is_the_python_one(database: Database, tenant_a: Tenant) -> None:
    workspace_id = tenant_a.workspace_ids[0]
    binding = TenantBinding(frozenset({workspace_id}))
    expected: dict[str, float] = {}
    async with database.transaction(binding, write=True) as session:
        bind_actor(session, Actor.system())
        for number, scale in enumerate(SCALES):
            definition_id = None
            if scale not in DEFAULT_SCALES.values():
                definition = SurveyDefinition(
                    workspace_id=workspace_id,
                    key=f"scale-{number}",
                    measure=scale.kind,
                    scale_min=scale.low,
                    scale_max=scale.high,
                    higher_is_better=scale.higher_is_better,
                )
                session.add(definition)
                await session.flush()
                definition_id = definition.id
            for value in range(scale.low, scale.high + 1):
                external_id = f"{number}-{value}"
                session.add(
                    Feedback(
                        workspace_id=workspace_id,
                        source=FeedbackSource.SURVEY,
                        external_id=external_id,
                        measure=scale.kind,
                        measure_value=value,
                        survey_definition_id=definition_id,
                        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
                    )
                )
                expected[external_id] = item_index(scale, value)
        await session.flush()
        rows = (
            await session.execute(
                select(Feedback.external_id, sql.item_index()).outerjoin(*sql.join_definition())
            )
        ).all()
    assert {external_id: pytest.approx(value) for external_id, value in rows} == expected
