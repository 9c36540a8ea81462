"""Survey results match a survey tool's numbers on the same answers, computed by hand.

Every number below is worked out in the comment beside it, the way a CX analyst
checks a survey tool's report: NPS = promoters % - detractors %, its margin of error
the t interval of the per-answer +1 / 0 / -1 values; CSAT = top-2-box % with a Wilson
interval; CES = the mean answer on its own scale with a t interval. Quantiles:
t(0.975; 19) = 2.093024, t(0.975; 7) = 2.364625, t(0.975; 3) = 3.182446,
z(0.975) = 1.959964.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from itertools import count
from typing import Any
from uuid import UUID

import pytest

from backend.audit.actor import Actor
from backend.audit.recorder import bind_actor
from backend.db.engine import Database
from backend.models import Feedback, Persona, SurveyDefinition
from backend.vocabulary.feedback import FeedbackSource, MeasureKind
from backend.vocabulary.journeys import Channel
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant
from tests.health.worlds import World, build_world

_serial = count()

RESULTS = """query($ws: ID!, $by: SurveyGrouping!, $from: DateTime, $to: DateTime,
                 $filter: SurveyResultsFilter, $pool: SurveyPooling! = DEFINITION) {
  workspace(id: $ws) { surveyResults(groupBy: $by, from: $from, to: $to, filter: $filter,
                                     pool: $pool) {
    group { by subjectId name channel startsAt }
    survey { measure scaleMin scaleMax higherIsBetter key version question }
    answers value interval { low high level } satisfied
    nps { promoters passives detractors promoterShare passiveShare detractorShare } } } }"""

SUBJECTS = """query($map: ID!, $from: DateTime, $to: DateTime) {
  journeyMap(id: $map) {
    surveyResults(from: $from, to: $to) {
      group { by subjectId name } survey { measure } answers value }
    stages { name surveyResults(from: $from, to: $to) { group { by name } answers value } } } }"""

# Survey results are costly to compute: a client asks them per touchpoint, not for every
# touchpoint of every stage in one request (that is refused as too costly).
TOUCHPOINT = """query($id: ID!, $from: DateTime, $to: DateTime) {
  node(id: $id) { ... on Touchpoint { name surveyResults(from: $from, to: $to) {
    group { by name } answers value interval { low high } } } } }"""

# A week of November 2026: Monday the 2nd to Sunday the 8th.
MONDAY = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
FROM, TO = "2026-10-01T00:00:00Z", "2026-12-01T00:00:00Z"


@dataclass
class Answers:
    """Writes answers straight into a workspace, as ingestion would have stored them."""

    db: Database
    world: World
    personas: dict[str, UUID] = field(default_factory=dict)

    async def add(
        self,
        measure: MeasureKind,
        values: Sequence[int],
        *,
        touchpoint: int | None = None,
        channel: Channel | None = None,
        persona: str | None = None,
        definition: UUID | None = None,
        at: datetime = MONDAY,
    ) -> None:
        world = self.world
        touchpoint_id = world.touchpoint_ids[touchpoint] if touchpoint is not None else None
        stage_id = world.stage_ids[touchpoint // 2] if touchpoint is not None else None
        async with self.db.transaction(world.binding(), write=True) as session:
            for value in values:
                session.add(
                    Feedback(
                        workspace_id=world.workspace_id,
                        source=FeedbackSource.SURVEY,
                        external_id=f"answer-{next(_serial)}",
                        journey_map_id=world.map_id if touchpoint is not None else None,
                        stage_id=stage_id,
                        touchpoint_id=touchpoint_id,
                        persona_id=self.personas[persona] if persona else None,
                        channel=channel,
                        measure=measure,
                        measure_value=value,
                        survey_definition_id=definition,
                        text="",
                        occurred_at=at,
                    )
                )

    async def definition(
        self, key: str, measure: MeasureKind, low: int, high: int, *, higher_is_better: bool = True
    ) -> UUID:
        async with self.db.transaction(self.world.binding(), write=True) as session:
            bind_actor(session, Actor.system())
            row = SurveyDefinition(
                workspace_id=self.world.workspace_id,
                key=key,
                version=1,
                measure=measure,
                scale_min=low,
                scale_max=high,
                higher_is_better=higher_is_better,
                question=f"{key}?",
            )
            session.add(row)
            await session.flush()
            return row.id

    async def persona(self, name: str) -> None:
        async with self.db.transaction(self.world.binding(), write=True) as session:
            bind_actor(session, Actor.system())
            row = Persona(workspace_id=self.world.workspace_id, name=name)
            session.add(row)
            await session.flush()
            self.personas[name] = row.id


@pytest.fixture
async def answers(database: Database, tenant_a: Tenant) -> Answers:
    return Answers(database, await build_world(database, tenant_a.workspace_ids[0]))


async def _results(
    gql: GraphQLClient, tenant: Tenant, by: str = "WORKSPACE", **variables: Any
) -> list[dict[str, Any]]:
    body = await gql(
        RESULTS,
        {"ws": tenant.ws_gid(), "by": by, "from": FROM, "to": TO, **variables},
        token=tenant.token,
    )
    rows: list[dict[str, Any]] = body["data"]["workspace"]["surveyResults"]
    return rows


def _one(rows: list[dict[str, Any]], measure: str) -> dict[str, Any]:
    found = [r for r in rows if r["survey"]["measure"] == measure]
    assert len(found) == 1, rows
    return found[0]


async def test_nps_and_its_margin_of_error_match_a_survey_tool(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers
) -> None:
    # 20 answers: 9 promoters (9-10), 6 passives (7-8), 5 detractors (0-6).
    await answers.add(MeasureKind.NPS, [10] * 5 + [9] * 4 + [8] * 3 + [7] * 3 + [6, 5, 3, 0, 2])
    nps = _one(await _results(gql, tenant_a), "NPS")
    # NPS = 9/20 - 5/20 = 45 % - 25 % = 20.
    assert nps["answers"] == 20
    assert nps["value"] == pytest.approx(20.0)
    assert nps["nps"] == {
        "promoters": 9,
        "passives": 6,
        "detractors": 5,
        "promoterShare": pytest.approx(45.0),
        "passiveShare": pytest.approx(30.0),
        "detractorShare": pytest.approx(25.0),
    }
    # Per answer +1 / 0 / -1: mean 0.2, Σx² = 9 + 5 = 14,
    # s² = (14 - 20 * 0.2²) / 19 = 13.2 / 19 = 0.694737, SE = sqrt(s² / 20) = 0.186378,
    # margin = 2.093024 * 0.186378 = 0.390094 -> ±39.01 NPS points: -19.01 .. 59.01.
    assert nps["interval"]["low"] == pytest.approx(-19.0094, abs=1e-3)
    assert nps["interval"]["high"] == pytest.approx(59.0094, abs=1e-3)
    assert nps["interval"]["level"] == 0.95
    assert nps["survey"] == {
        "measure": "NPS",
        "scaleMin": 0,
        "scaleMax": 10,
        "higherIsBetter": True,
        "key": None,
        "version": None,
        "question": None,
    }
    assert nps["satisfied"] is None


async def test_csat_is_the_top_two_box_share_with_a_wilson_interval(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers
) -> None:
    # 12 answers on 1-5, 9 of them 4 or 5.
    await answers.add(MeasureKind.CSAT, [5, 5, 5, 5, 4, 4, 4, 4, 4, 3, 2, 1])
    csat = _one(await _results(gql, tenant_a), "CSAT")
    # CSAT = 9 / 12 = 75.0 % (a mean of the answers, 3.83 / 5, is NOT what tools report).
    assert (csat["answers"], csat["satisfied"]) == (12, 9)
    assert csat["value"] == pytest.approx(75.0)
    # Wilson, p = 0.75, n = 12, z² = 3.841459:
    # centre = (0.75 + z²/24) / (1 + z²/12) = 0.910061 / 1.320122 = 0.689376,
    # half = z * sqrt(0.75 * 0.25 / 12 + z² / 576) / 1.320122
    #      = 1.959964 * sqrt(0.015625 + 0.006669) / 1.320122 = 0.221682
    # -> 46.77 % .. 91.11 %.
    assert csat["interval"]["low"] == pytest.approx(46.7695, abs=1e-3)
    assert csat["interval"]["high"] == pytest.approx(91.1058, abs=1e-3)
    assert csat["nps"] is None


async def test_ces_is_the_mean_answer_on_its_scale_with_a_t_interval(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers
) -> None:
    # CES 2.0, the default scale (1-7, 7 = "it was easy"): 8 answers.
    await answers.add(MeasureKind.CES, [7, 6, 6, 5, 4, 7, 6, 3])
    ces = _one(await _results(gql, tenant_a), "CES")
    # Mean = 44 / 8 = 5.5; Σx² = 256, s² = (256 - 8 * 5.5²) / 7 = 2.0, SE = sqrt(2 / 8) = 0.5,
    # margin = 2.364625 * 0.5 = 1.182312 -> 4.3177 .. 6.6823.
    assert ces["value"] == pytest.approx(5.5)
    assert ces["interval"]["low"] == pytest.approx(4.3177, abs=1e-3)
    assert ces["interval"]["high"] == pytest.approx(6.6823, abs=1e-3)
    assert (ces["survey"]["scaleMin"], ces["survey"]["scaleMax"]) == (1, 7)
    assert ces["survey"]["higherIsBetter"] is True


async def test_a_lower_is_better_ces_reports_the_mean_as_answered(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers
) -> None:
    # An older effort survey: 1-5, 1 = "no effort at all", the best answer.
    effort = await answers.definition("effort-v1", MeasureKind.CES, 1, 5, higher_is_better=False)
    await answers.add(MeasureKind.CES, [1, 2, 2, 3], definition=effort)
    ces = _one(await _results(gql, tenant_a), "CES")
    # Mean = 8 / 4 = 2.0 as answered (turned round it would read 4.0).
    assert ces["value"] == pytest.approx(2.0)
    # s² = (18 - 4 * 2²) / 3 = 0.666667, SE = sqrt(s² / 4) = 0.408248,
    # margin = 3.182446 * 0.408248 = 1.299228 -> 0.7008 .. 3.2992, cut at the scale's 1.
    assert ces["interval"]["low"] == pytest.approx(1.0)
    assert ces["interval"]["high"] == pytest.approx(3.2992, abs=1e-3)
    assert ces["survey"] == {
        "measure": "CES",
        "scaleMin": 1,
        "scaleMax": 5,
        "higherIsBetter": False,
        "key": "effort-v1",
        "version": 1,
        "question": "effort-v1?",
    }


async def test_different_scales_are_never_averaged_and_nps_definitions_pool(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers
) -> None:
    # CES on 1-5 (a definition) and CES 2.0 on 1-7 (no definition: the default scale).
    ces5 = await answers.definition("ces-5", MeasureKind.CES, 1, 5)
    await answers.add(MeasureKind.CES, [5, 5], definition=ces5)
    await answers.add(MeasureKind.CES, [1, 1])
    # Two NPS questions: 2 promoters of 2 and 2 detractors of 2.
    relationship = await answers.definition("nps-relationship", MeasureKind.NPS, 0, 10)
    await answers.add(MeasureKind.NPS, [10, 9], definition=relationship)
    await answers.add(MeasureKind.NPS, [0, 6])

    for pool in ("DEFINITION", "SCALE"):
        rows = await _results(gql, tenant_a, pool=pool)
        ces = {r["survey"]["scaleMax"]: r["value"] for r in rows if r["survey"]["measure"] == "CES"}
        # Each CES on its own scale: 5.0 of 5 and 1.0 of 7, never a mean of 3.0.
        assert ces == {5: pytest.approx(5.0), 7: pytest.approx(1.0)}
    by_definition = await _results(gql, tenant_a)
    nps = {r["survey"]["key"]: r["value"] for r in by_definition if r["survey"]["measure"] == "NPS"}
    assert nps == {"nps-relationship": pytest.approx(100.0), None: pytest.approx(-100.0)}
    # Pooled: 2 promoters and 2 detractors of 4 -> NPS 0.
    pooled = _one(await _results(gql, tenant_a, pool="SCALE"), "NPS")
    assert (pooled["answers"], pooled["value"], pooled["survey"]["key"]) == (4, 0.0, None)


async def test_results_per_touchpoint_stage_channel_and_persona(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers
) -> None:
    await answers.persona("First-time buyer")
    await answers.persona("Regular")
    # T0.0 (stage S0): 2 of 3 satisfied, by email, first-time buyers.
    await answers.add(
        MeasureKind.CSAT, [5, 4, 2], touchpoint=0, channel=Channel.EMAIL, persona="First-time buyer"
    )
    # T0.1 (stage S0): 0 of 2, by phone, regulars.
    await answers.add(
        MeasureKind.CSAT, [1, 2], touchpoint=1, channel=Channel.PHONE, persona="Regular"
    )
    # T1.0 (stage S1): 1 of 1, by email, regulars.
    await answers.add(MeasureKind.CSAT, [5], touchpoint=2, channel=Channel.EMAIL, persona="Regular")
    # Workspace-wide (no touchpoint, channel or persona): 1 of 2.
    await answers.add(MeasureKind.CSAT, [4, 3])

    def by_name(rows: list[dict[str, Any]]) -> dict[str | None, tuple[int, float]]:
        return {r["group"]["name"]: (r["answers"], round(r["value"], 2)) for r in rows}

    touchpoints = await _results(gql, tenant_a, "TOUCHPOINT")
    assert by_name(touchpoints) == {
        "T0.0": (3, 66.67),
        "T0.1": (2, 0.0),
        "T1.0": (1, 100.0),
        None: (2, 50.0),  # answers placed on no touchpoint are counted, not dropped
    }
    t00 = next(r for r in touchpoints if r["group"]["name"] == "T0.0")
    assert t00["group"]["subjectId"] == global_id("Touchpoint", answers.world.touchpoint_ids[0])
    assert by_name(await _results(gql, tenant_a, "STAGE")) == {
        "S0": (5, 40.0),  # 2 of 5
        "S1": (1, 100.0),
        None: (2, 50.0),
    }
    assert by_name(await _results(gql, tenant_a, "JOURNEY_MAP")) == {
        "Journey": (6, 50.0),  # 3 of 6
        None: (2, 50.0),
    }
    channels = await _results(gql, tenant_a, "CHANNEL")
    assert by_name(channels) == {"EMAIL": (4, 75.0), "PHONE": (2, 0.0), None: (2, 50.0)}
    assert {r["group"]["channel"] for r in channels} == {"EMAIL", "PHONE", None}
    assert by_name(await _results(gql, tenant_a, "PERSONA")) == {
        "First-time buyer": (3, 66.67),
        "Regular": (3, 33.33),
        None: (2, 50.0),
    }
    assert by_name(await _results(gql, tenant_a, "WORKSPACE")) == {
        "alpha client 1": (8, 50.0)  # 4 of 8
    }


async def test_results_per_utc_week_and_month(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers
) -> None:
    # Week of Monday 2 November: Monday noon, and Sunday 8th 23:30 UTC.
    await answers.add(MeasureKind.CSAT, [5], at=MONDAY)
    await answers.add(MeasureKind.CSAT, [1], at=datetime(2026, 11, 8, 23, 30, tzinfo=UTC))
    # 00:30 on Monday 9th in UTC+2 is still Sunday 8th in UTC: the same week.
    await answers.add(
        MeasureKind.CSAT, [5], at=datetime(2026, 11, 9, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    )
    # The next week, and October.
    await answers.add(MeasureKind.CSAT, [4, 4], at=datetime(2026, 11, 9, 8, 0, tzinfo=UTC))
    await answers.add(MeasureKind.CSAT, [2], at=datetime(2026, 10, 30, 8, 0, tzinfo=UTC))

    weeks = await _results(gql, tenant_a, "WEEK")
    assert [(r["group"]["startsAt"], r["answers"], round(r["value"], 2)) for r in weeks] == [
        ("2026-10-26T00:00:00+00:00", 1, 0.0),
        ("2026-11-02T00:00:00+00:00", 3, 66.67),  # 2 of 3
        ("2026-11-09T00:00:00+00:00", 2, 100.0),
    ]
    assert weeks[1]["group"]["name"] == "2026-11-02"
    months = await _results(gql, tenant_a, "MONTH")
    assert [(r["group"]["name"], r["answers"]) for r in months] == [
        ("2026-10-01", 1),
        ("2026-11-01", 5),
    ]
    days = await _results(gql, tenant_a, "DAY")
    assert [(r["group"]["name"], r["answers"]) for r in days] == [
        ("2026-10-30", 1),
        ("2026-11-02", 1),
        ("2026-11-08", 2),
        ("2026-11-09", 2),
    ]


async def test_the_period_defaults_to_the_last_90_days_and_is_capped(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers
) -> None:
    now = datetime.now(UTC)
    await answers.add(MeasureKind.CSAT, [5], at=now - timedelta(days=10))
    await answers.add(MeasureKind.CSAT, [1], at=now - timedelta(days=100))
    body = await gql(RESULTS, {"ws": tenant_a.ws_gid(), "by": "WORKSPACE"}, token=tenant_a.token)
    [csat] = body["data"]["workspace"]["surveyResults"]
    assert (csat["answers"], csat["value"]) == (1, 100.0)

    too_long = await gql(
        RESULTS,
        {"ws": tenant_a.ws_gid(), "by": "DAY", "from": "2020-01-01T00:00:00Z", "to": TO},
        token=tenant_a.token,
        expect_errors=True,
    )
    assert too_long["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "to"}


async def test_filters_by_map_touchpoint_and_survey_key(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers
) -> None:
    onboarding = await answers.definition("onboarding", MeasureKind.CSAT, 1, 5)
    await answers.add(MeasureKind.CSAT, [5, 5], touchpoint=0, definition=onboarding)
    await answers.add(MeasureKind.CSAT, [1], touchpoint=3)
    await answers.add(MeasureKind.CSAT, [1, 1, 1])

    world = answers.world
    in_map = await _results(
        gql, tenant_a, filter={"journeyMapId": global_id("JourneyMap", world.map_id)}
    )
    assert sum(r["answers"] for r in in_map) == 3
    at_t3 = await _results(
        gql,
        tenant_a,
        "TOUCHPOINT",
        filter={"touchpointId": global_id("Touchpoint", world.touchpoint_ids[3])},
    )
    assert [(r["group"]["name"], r["answers"], r["value"]) for r in at_t3] == [("T1.1", 1, 0.0)]
    keyed = await _results(gql, tenant_a, filter={"surveyKey": "onboarding"})
    assert [(r["survey"]["key"], r["answers"], r["value"]) for r in keyed] == [
        ("onboarding", 2, 100.0)
    ]


async def test_another_tenants_answers_are_never_counted(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, tenant_b: Tenant, answers: Answers
) -> None:
    await answers.add(MeasureKind.NPS, [10, 10], touchpoint=0)
    theirs = Answers(database, await build_world(database, tenant_b.workspace_ids[0]))
    await theirs.add(MeasureKind.NPS, [0, 0, 0], touchpoint=0)

    [nps] = await _results(gql, tenant_a)
    assert (nps["answers"], nps["value"]) == (2, 100.0)
    # Their touchpoint as a filter, or an id of another kind: nothing, not their numbers.
    for touchpoint in (
        global_id("Touchpoint", theirs.world.touchpoint_ids[0]),
        global_id("Stage", answers.world.stage_ids[0]),
        "not-an-id",
    ):
        rows = await _results(gql, tenant_a, "TOUCHPOINT", filter={"touchpointId": touchpoint})
        assert rows == []
    # Their workspace is not reachable at all.
    body = await gql(RESULTS, {"ws": tenant_b.ws_gid(), "by": "WORKSPACE"}, token=tenant_a.token)
    assert body["data"]["workspace"] is None


async def test_map_stage_and_touchpoint_each_show_their_own_results(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers
) -> None:
    await answers.add(MeasureKind.CES, [7, 5], touchpoint=0)  # mean 6
    await answers.add(MeasureKind.CES, [3], touchpoint=2)
    body = await gql(
        SUBJECTS,
        {"map": global_id("JourneyMap", answers.world.map_id), "from": FROM, "to": TO},
        token=tenant_a.token,
    )
    journey = body["data"]["journeyMap"]
    assert [(r["group"]["name"], r["answers"], r["value"]) for r in journey["surveyResults"]] == [
        ("Journey", 3, 5.0)
    ]
    assert journey["surveyResults"][0]["group"]["by"] == "JOURNEY_MAP"
    assert journey["surveyResults"][0]["group"]["subjectId"] == global_id(
        "JourneyMap", answers.world.map_id
    )
    stages = {
        s["name"]: [(r["answers"], r["value"]) for r in s["surveyResults"]]
        for s in journey["stages"]
    }
    assert stages == {"S0": [(2, 6.0)], "S1": [(1, 3.0)]}
    touchpoints = {}
    for touchpoint_id in answers.world.touchpoint_ids:
        body = await gql(
            TOUCHPOINT,
            {"id": global_id("Touchpoint", touchpoint_id), "from": FROM, "to": TO},
            token=tenant_a.token,
        )
        touchpoints[body["data"]["node"]["name"]] = body["data"]["node"]["surveyResults"]
    # 7 and 5: mean 6, s² = 2, SE = 1, t(0.975; 1) = 12.706 -> past both ends, cut to 1 .. 7.
    assert touchpoints["T0.0"] == [
        {
            "group": {"by": "TOUCHPOINT", "name": "T0.0"},
            "answers": 2,
            "value": 6.0,
            "interval": {"low": 1.0, "high": 7.0},
        }
    ]
    # One answer: a mean but no interval.
    assert touchpoints["T1.0"][0]["interval"] is None
    assert touchpoints["T0.1"] == []
    assert touchpoints["T1.1"] == []


async def test_one_statement_whatever_the_number_of_answers_and_groups(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers, sql_statements: list[str]
) -> None:
    await answers.persona("Regular")
    await answers.add(MeasureKind.NPS, [9, 3], touchpoint=0, persona="Regular")

    async def reads() -> tuple[int, int]:
        """Statements reading feedback, and all statements, for one request per grouping."""
        sql_statements.clear()
        for by in ("TOUCHPOINT", "STAGE", "JOURNEY_MAP", "PERSONA", "WORKSPACE", "WEEK"):
            await _results(gql, tenant_a, by)
        return sum(1 for s in sql_statements if "feedback" in s.lower()), len(sql_statements)

    await reads()  # the first request also records when the caller's token was last used
    few = await reads()
    # Many more answers, on four touchpoints and stages instead of one, in two weeks.
    for touchpoint in range(4):
        await answers.add(
            MeasureKind.NPS, list(range(11)) * 5, touchpoint=touchpoint, persona="Regular"
        )
        await answers.add(MeasureKind.CSAT, [1, 2, 3, 4, 5] * 5, touchpoint=touchpoint)
    await answers.add(MeasureKind.CES, [1, 7] * 20, at=MONDAY + timedelta(days=7))
    many = await reads()
    assert few[0] == 6  # one statement a request reads the answers
    assert many == few  # and group names come batched: nothing grows with the groups


async def test_a_touchpoint_moved_to_another_stage_takes_its_answers_along(
    gql: GraphQLClient, tenant_a: Tenant, answers: Answers
) -> None:
    """As a stage's health does: a stage's results are its touchpoints' answers as the
    journey stands now, not where each answer was first placed."""
    await answers.add(MeasureKind.CSAT, [5, 4, 1], touchpoint=0)  # T0.0, placed in S0
    moved = await gql(
        """mutation($id: ID!, $stage: ID!) { moveTouchpoint(input: {id: $id, position: 0,
          stageId: $stage}) { errors { code } } }""",
        {
            "id": global_id("Touchpoint", answers.world.touchpoint_ids[0]),
            "stage": global_id("Stage", answers.world.stage_ids[1]),
        },
        token=tenant_a.token,
    )
    assert moved["data"]["moveTouchpoint"]["errors"] == []
    by_stage = {r["group"]["name"]: r["answers"] for r in await _results(gql, tenant_a, "STAGE")}
    assert by_stage == {"S1": 3}
    s1 = await _results(
        gql,
        tenant_a,
        "WORKSPACE",
        filter={"stageId": global_id("Stage", answers.world.stage_ids[1])},
    )
    assert _one(s1, "CSAT")["answers"] == 3
    s0 = await _results(
        gql,
        tenant_a,
        "WORKSPACE",
        filter={"stageId": global_id("Stage", answers.world.stage_ids[0])},
    )
    assert s0 == []
