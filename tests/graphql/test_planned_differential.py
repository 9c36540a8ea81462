"""Generated reads answer byte for byte alike through the planned executor and the ordinary one.

Two apps on one database (tests.fixtures.planned), one with ``planned_reads``, and one
world for the whole module: a tenant with two maps (one scored: stages, touchpoints,
pain points of every severity and both statuses, opportunities, a persona, feedback,
computed health; one created after the scores, so its health is null), and another
tenant whose ids are asked for as invisible objects. The documents come from the schema
(tests.graphql.planned_documents): a fixed corpus from a seeded ``random.Random``, and
hypothesis for shrinking a divergence to a small document. Each is sent to both apps;
the two bodies (json.dumps, keys sorted) must be equal. With a ``from_model`` broken
for one item in the middle of a list, they must still be equal, errors and null
propagation included (each request's own ``requestId`` aside).

Asked a second time, a document Postgres wrote whole is answered by its statement alone
(graphql_schema/written_queries.py), and that answer is compared too.

The engine's tallies show the comparisons mean something: many documents take the
planned path, and it falls back only where an error was injected. The divergences found
are pinned, minimised, at the end (strict xfails), and kept out of the generated cases.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from graphql import OperationDefinitionNode, parse
from hypothesis import Phase, given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import Database
from backend.db.types import utcnow
from backend.settings import Environment, Settings
from backend.vocabulary.feedback import MeasureKind
from backend.vocabulary.journeys import Severity
from graphql_schema import engine
from graphql_schema.dataloaders.health import HealthScoreBySubjectLoader
from graphql_schema.health import types as health_types
from graphql_schema.journeys import types as journey_types
from tests.conftest import LOOPBACK_IDPS
from tests.fixtures.databases import TestDatabase, truncate_all
from tests.fixtures.dns_server import LocalDnsServer
from tests.fixtures.graphql import global_id
from tests.fixtures.planned import (
    answer,
    ordinary_and_planned,
    python_plans_only,
    without_request_ids,
)
from tests.fixtures.tenants import Tenant, seed_tenant
from tests.graphql.planned_documents import RootIds, corpus, planned_reads
from tests.graphql.test_fuzz import Case, Pool, fuzz
from tests.health.worlds import World, add_feedback, add_many, add_pain, build_world

SEED = 1234
CORPUS_SIZE = 300
BROKEN_CASES = 40  # documents per injected error
CRASHED = "the request died of a CancelledError"
SEVERITIES = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]


# --------------------------------------------------------------------------- the world


@dataclass
class Differential:
    clients: dict[bool, httpx.AsyncClient]
    token: str
    pool: Pool
    ids: RootIds
    cases: list[Case]


async def _ok(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    body = json.loads(await answer(client, query, variables, token))
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    assert payload.get("errors", []) == [], payload
    return payload


async def _pains_and_opportunities(
    client: httpx.AsyncClient, token: str, touchpoints: list[str]
) -> None:
    """Pain points of every severity, some resolved, on all but the last touchpoints (an
    empty list there); three opportunities on every third, the first answering a pain."""
    for index, touchpoint in enumerate(touchpoints[:-2]):
        pains = [
            await _ok(
                client,
                token,
                "mutation($input: AddPainPointInput!) { addPainPoint(input: $input) "
                "{ painPoint { id } errors { code } } }",
                input={
                    "touchpointId": touchpoint,
                    "title": f"Pain {index}.{extra}",
                    "severity": SEVERITIES[(index + extra) % 4],
                    "status": "RESOLVED" if (index + extra) % 3 == 2 else "OPEN",
                },
            )
            for extra in range(1 + index % 3)
        ]
        if index % 3 != 0:
            continue
        for extra, status in enumerate(["OPEN", "PLANNED", "DONE"]):
            await _ok(
                client,
                token,
                "mutation($input: AddOpportunityInput!) { addOpportunity(input: $input) "
                "{ errors { code message field } } }",
                input={
                    "touchpointId": touchpoint,
                    "title": f"Idea {index}.{extra}",
                    "painPointId": pains[0]["painPoint"]["id"] if extra == 0 else None,
                    "status": status,
                },
            )


async def _persona_on(
    client: httpx.AsyncClient, token: str, workspace: str, journey_map: str, touchpoints: list[str]
) -> str:
    """A persona on the map; emotions, channels and devices on some touchpoints (null on
    the others)."""
    made = await _ok(
        client,
        token,
        "mutation($input: CreatePersonaInput!) { createPersona(input: $input) "
        "{ persona { id } errors { code } } }",
        input={"workspaceId": workspace, "name": "Pat", "goals": ["speed"]},
    )
    persona = str(made["persona"]["id"])
    await _ok(
        client,
        token,
        "mutation($input: UpdateJourneyMapInput!) { updateJourneyMap(input: $input) "
        "{ errors { code message field } } }",
        input={"id": journey_map, "personaIds": [persona], "departments": ["Sales", "Care"]},
    )
    for index, touchpoint in enumerate(touchpoints[:3]):
        await _ok(
            client,
            token,
            "mutation($input: UpdateTouchpointInput!) { updateTouchpoint(input: $input) "
            "{ errors { code message field } } }",
            input={
                "id": touchpoint,
                "channel": ["WEB", "EMAIL", "PHONE"][index],
                "device": "SMARTPHONE" if index else None,
                "personaEmotions": [{"personaId": persona, "current": index - 1, "target": 2}],
            },
        )
    return persona


async def _feedback(database: Database, world: World) -> None:
    """Enough answers for a score on the first touchpoints, too few on the next, none on
    the rest; feedback on a stage and on the map alone."""
    day = utcnow() - timedelta(days=1)
    for index, touchpoint in enumerate(world.touchpoint_ids[:5]):
        answers = [(MeasureKind.CSAT, 1 + (index + n) % 5) for n in range(6 if index < 4 else 2)]
        await add_many(database, world, touchpoint, answers, occurred_at=day)
    await add_feedback(database, world, None, stage_id=world.stage_ids[1], occurred_at=day)
    await add_feedback(database, world, None, value=2, occurred_at=day)


async def _scored_map(
    client: httpx.AsyncClient, database: Database, tenant: Tenant
) -> tuple[World, str]:
    """The map the documents are mostly about, and its persona's global id."""
    world = await build_world(database, tenant.workspace_ids[0], stages=3, touchpoints_per_stage=3)
    touchpoints = [global_id("Touchpoint", t) for t in world.touchpoint_ids]
    persona = await _persona_on(
        client, tenant.token, tenant.ws_gid(0), global_id("JourneyMap", world.map_id), touchpoints
    )
    await _pains_and_opportunities(client, tenant.token, touchpoints)
    await _metric_and_initiative(client, tenant, global_id("JourneyMap", world.map_id), touchpoints)
    await _feedback(database, world)
    await _ok(
        client,
        tenant.token,
        "mutation($input: RecalculateHealthInput!) { recalculateHealth(input: $input) "
        "{ errors { code message field } } }",
        input={"workspaceId": tenant.ws_gid(0)},
    )
    return world, persona


async def _metric_and_initiative(
    client: httpx.AsyncClient, tenant: Tenant, journey_map: str, touchpoints: list[str]
) -> None:
    """Other ways to a map and its touchpoints: a metric on the map, an initiative on two
    touchpoints."""
    await _ok(
        client,
        tenant.token,
        "mutation($input: CreateMetricInput!) { createMetric(input: $input) "
        "{ errors { code message field } } }",
        input={
            "workspaceId": tenant.ws_gid(0),
            "name": "Conversion",
            "direction": "HIGHER_IS_BETTER",
            "journeyMapId": journey_map,
        },
    )
    await _ok(
        client,
        tenant.token,
        "mutation($input: CreateInitiativeInput!) { createInitiative(input: $input) "
        "{ errors { code message field } } }",
        input={
            "workspaceId": tenant.ws_gid(0),
            "title": "Faster checkout",
            "touchpointIds": touchpoints[1:3],
        },
    )


async def _unscored_map(client: httpx.AsyncClient, tenant: Tenant) -> str:
    """A map from a template, made after the scores: its health is null throughout."""
    made = await _ok(
        client,
        tenant.token,
        "mutation($input: CreateJourneyMapInput!) { createJourneyMap(input: $input) "
        "{ journeyMap { id } errors { code } } }",
        input={
            "workspaceId": tenant.ws_gid(0),
            "title": "Second",
            "template": "FIVE_STAGE",
            "status": "ACTIVE",
        },
    )
    return str(made["journeyMap"]["id"])


async def _another_tenants_map(database: Database, tenant: Tenant) -> World:
    world = await build_world(database, tenant.workspace_ids[0], stages=1)
    await add_pain(database, world, world.touchpoint_ids[0], Severity.HIGH)
    return world


def _root_ids(
    alpha: Tenant, scored: World, unscored: str, persona: str, bravo: Tenant, hidden: World
) -> RootIds:
    """Per root field, the caller's own ids first; then another tenant's (invisible), ids
    of another type, and an id of nothing."""
    stages = [global_id("Stage", s) for s in scored.stage_ids]
    touchpoints = [global_id("Touchpoint", t) for t in scored.touchpoint_ids]
    scored_map = global_id("JourneyMap", scored.map_id)
    invisible = [
        global_id("JourneyMap", hidden.map_id),
        global_id("Stage", hidden.stage_ids[0]),
        global_id("Touchpoint", hidden.touchpoint_ids[0]),
        bravo.ws_gid(0),
    ]
    nothing = global_id("JourneyMap", "00000000-0000-0000-0000-000000000000")
    return RootIds(
        journey_map=[
            scored_map,
            scored_map,
            scored_map,
            unscored,
            invisible[0],
            stages[0],
            nothing,
        ],
        node=[
            scored_map,
            stages[1],
            touchpoints[4],
            unscored,
            persona,
            *stages,
            *touchpoints,
            *invisible,
        ],
        workspace=[alpha.ws_gid(0), alpha.ws_gid(0), alpha.ws_gid(1), invisible[3], scored_map],
    )


@pytest.fixture(scope="module")
def module_settings(test_database: TestDatabase, dns_server_session: LocalDnsServer) -> Settings:
    """conftest's ``settings``, for the module's apps."""
    return dns_server_session.settings(
        Settings(
            env=Environment.TEST, database_url=test_database.app_url, outbound_allow=LOOPBACK_IDPS
        )
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def differential(
    module_settings: Settings, shared_database: Database, inspector_engine: AsyncEngine
) -> AsyncIterator[Differential]:
    """The apps, the world and the corpus, built once: the module only reads."""
    await truncate_all(inspector_engine)
    async with ordinary_and_planned(module_settings, shared_database) as clients:
        alpha = await seed_tenant(shared_database, "alpha")
        bravo = await seed_tenant(shared_database, "bravo")
        scored, persona = await _scored_map(clients[False], shared_database, alpha)
        unscored = await _unscored_map(clients[False], alpha)
        hidden = await _another_tenants_map(shared_database, bravo)
        ids = _root_ids(alpha, scored, unscored, persona, bravo, hidden)
        pool = Pool(
            token=alpha.token,
            ids=[*ids.node, *ids.workspace],
            cursors={},
            slugs=[alpha.slug],
            emails=[alpha.owner_email],
            names=[],
            workspace=alpha.ws_gid(0),
        )
        yield Differential(clients, alpha.token, pool, ids, corpus(pool, ids, SEED, CORPUS_SIZE))
    await truncate_all(inspector_engine)


# --------------------------------------------------------------------------- comparing


@dataclass
class Outcome:
    ordinary: str
    planned: str
    planned_entries: int  # fields (relations or whole values) the planned app built by a plan
    fell_back: int
    written: int = 0  # of those, how many Postgres wrote as JSON (graphql_schema.json_plans)

    @property
    def alike(self) -> bool:
        return without_request_ids(self.ordinary) == without_request_ids(self.planned)

    @property
    def has_data(self) -> bool:
        """Some root field answered: the document was executed, not refused."""
        data = self.body.get("data") or {}
        return any(value is not None for value in data.values())

    @property
    def body(self) -> dict[str, Any]:
        """The ordinary answer; empty if the request died."""
        return json.loads(self.ordinary) if self.ordinary.startswith("{") else {}


async def _answer_or_crash(client: httpx.AsyncClient, case: Case, token: str) -> str:
    """The answer; or, when the request itself dies of a CancelledError (graphql-core
    cancelled a task awaiting a DataLoader future another task awaits too), that fact,
    so that the comparison reports it (and hypothesis can shrink it)."""
    try:
        return await answer(client, case.document, case.variables, token)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():  # this test is being cancelled
            raise
        return CRASHED


async def run(differential: Differential, case: Case) -> Outcome:
    clients, token = differential.clients, differential.token
    ordinary = await _answer_or_crash(clients[False], case, token)
    before = engine.COUNTS.copy()
    planned = await _answer_or_crash(clients[True], case, token)
    return Outcome(
        ordinary,
        planned,
        planned_entries=sum(
            engine.COUNTS[kind] - before[kind] for kind in ("planned", "planned values")
        ),
        fell_back=engine.COUNTS["fell back"] - before["fell back"],
        written=engine.COUNTS["written by postgres"] - before["written by postgres"],
    )


def report(case: Case, outcome: Outcome) -> str:
    return (
        f"\ndocument:  {case.document}\nvariables: {json.dumps(case.variables)}"
        f"\nordinary:  {outcome.ordinary}\nplanned:   {outcome.planned}"
    )


# --------------------------------------------------------------------------- the corpus


async def test_the_corpus_is_answered_alike(
    differential: Differential, test_database: TestDatabase
) -> None:
    outcomes = [await run(differential, case) for case in differential.cases]
    divergences = [
        report(case, outcome)
        for case, outcome in zip(differential.cases, outcomes, strict=True)
        if not outcome.alike
    ]
    assert not divergences, f"{len(divergences)} divergences:" + "".join(divergences[:5])
    # Guards against comparing nothing: most documents are answered with data, many
    # through a plan, and nothing went wrong inside a plan.
    # (84 % answered; most of the rest ask for invisible ids, 40 % went through a plan.)
    assert sum(o.has_data for o in outcomes) >= 0.75 * len(outcomes)
    assert sum(o.planned_entries > 0 for o in outcomes) >= 0.3 * len(outcomes)
    assert sum(o.fell_back for o in outcomes) == 0
    assert not [o for o in outcomes if _internal(o)]  # only the injected errors are INTERNAL
    # On Postgres, many of those plans were written as JSON by Postgres itself, and
    # answered byte for byte as the ordinary engine answers.
    written = sum(o.written > 0 for o in outcomes)
    if test_database.is_postgres:
        assert written >= 0.05 * len(outcomes), written  # 28 of 300 with the seed
    else:
        assert written == 0


async def test_the_corpus_asked_again_is_answered_alike_directly_where_written_whole(
    differential: Differential, test_database: TestDatabase
) -> None:
    """The planned app asked each document a second time: where Postgres wrote the
    operation whole the first time, the second answer comes from its statement alone
    (graphql_schema/written_queries.py), and it is the ordinary engine's answer too."""
    clients, token = differential.clients, differential.token
    direct = written_whole = 0
    divergences = []
    for case in differential.cases:
        operations = engine.COUNTS["written operations"]
        first = await run(differential, case)
        written_whole += engine.COUNTS["written operations"] > operations
        before = engine.COUNTS["answered directly"]
        again = await _answer_or_crash(clients[True], case, token)
        direct += engine.COUNTS["answered directly"] - before
        second = Outcome(first.ordinary, again, 0, 0)
        if not second.alike:
            divergences.append(report(case, second))
    assert not divergences, f"{len(divergences)} divergences:" + "".join(divergences[:5])
    if test_database.is_postgres:
        # Every operation written whole the first time, and only those; how many there
        # are depends on what the seed draws from the schema (24 of 300 today).
        assert direct == written_whole, (direct, written_whole)
        assert direct >= 0.05 * len(differential.cases), direct
    else:
        assert direct == 0


def test_the_corpus_is_fixed_by_its_seed(differential: Differential) -> None:
    again = corpus(differential.pool, differential.ids, SEED, 20)
    assert [c.document for c in again] == [c.document for c in differential.cases[:20]]


def test_the_corpus_has_what_the_issue_asks_for(differential: Differential) -> None:
    documents = [c.document for c in differential.cases]

    def share(predicate: Callable[[str], bool]) -> float:
        return sum(map(predicate, documents)) / len(documents)

    assert share(lambda d: "fragment " in d) > 0.1
    assert share(lambda d: "... on " in d) > 0.1
    assert share(lambda d: "@include(if: $" in d or "@skip(if: $" in d) > 0.1
    assert share(lambda d: "@include(if: true" in d or "@skip(if: true" in d) > 0.05
    assert share(lambda d: " a1: " in d or " a2: " in d) > 0.05
    assert share(lambda d: "__typename" in d) > 0.1
    assert share(lambda d: "node(" in d) > 0.2
    assert share(lambda d: "journeyMaps(" in d) > 0.05
    assert share(lambda d: "painPoints" in d) > 0.2
    depth = max(_depth(d.partition(" fragment ")[0]) for d in documents)
    assert depth >= 6, depth


def _depth(document: str) -> int:
    level = deepest = 0
    for character in document:
        level += {"{": 1, "}": -1}.get(character, 0)
        deepest = max(deepest, level)
    return deepest - 1  # the operation's own braces


# --------------------------------------------------------------------------- shrinking


@fuzz(max_examples=40, phases=[Phase.explicit, Phase.generate, Phase.shrink])
@given(data=st.data())
async def test_a_divergence_shrinks_to_a_small_document(
    differential: Differential, data: st.DataObject
) -> None:
    case = data.draw(planned_reads(differential.pool, differential.ids), label="case")
    outcome = await run(differential, case)
    assert outcome.alike, report(case, outcome)
    assert outcome.fell_back == 0


# --------------------------------------------------------------------------- errors in lists


@dataclass(frozen=True)
class Breakage:
    """``owner.from_model`` broken for the items ``chosen`` picks (in the middle of a list):
    raising, or leaving the ``nulled`` attributes null where the schema says non-null."""

    owner: Any
    field: str  # the list field the broken items are in
    chosen: Callable[[Any], bool]
    nulled: tuple[str, ...] = ()  # none: raise


BREAKAGES = {
    "the middle stage raises": Breakage(
        journey_types.StageType, "stages", lambda s: s.name == "S1"
    ),
    "a middle touchpoint raises": Breakage(
        journey_types.TouchpointType, "touchpoints", lambda t: t.name == "T1.1"
    ),
    "medium pain points raise": Breakage(
        journey_types.PainPointType, "painPoints", lambda p: str(p.severity).endswith("MEDIUM")
    ),
    "a middle opportunity has nulls": Breakage(
        journey_types.OpportunityType,
        "opportunities",
        # The middle of the first touchpoint's three, once a map: with one in each of
        # several stages, two errors null the same map and graphql-core keeps whichever
        # came first, which varies from one run to the next on either engine.
        lambda o: o.title == "Idea 0.1",
        ("title", "description", "status", "created_at"),
    ),
    "a health component has nulls": Breakage(
        health_types.HealthComponentType,
        "components",
        lambda c: c.name == "prior",
        ("name", "value", "weight", "sample_size", "prior_share"),
    ),
}


WHOLE_MAP = """query Q($id: ID!) { journeyMap(id: $id) { stages { name touchpoints { name
  painPoints { title severity } opportunities { title description status createdAt }
  health { components { name value weight sampleSize priorShare } } } } } }"""


def _internal(outcome: Outcome) -> list[dict[str, Any]]:
    """The errors of the ordinary answer that are not the client's (masked as INTERNAL)."""
    errors = outcome.body.get("errors", [])
    return [e for e in errors if e.get("extensions", {}).get("code") == "INTERNAL"]


def _past_the_first_item(error: dict[str, Any]) -> bool:
    return any(isinstance(step, int) and step > 0 for step in error.get("path") or [])


def _one_failure_at_a_time(case: Case, breakage: Breakage) -> bool:
    """One root field, selecting the broken list once: where several fields fail at once,
    the answers differ in known ways (see the known divergences below)."""
    operation = parse(case.document).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    roots = operation.selection_set.selections
    if len(roots) != 1 or len(re.findall(rf"\b{breakage.field}\b", case.document)) != 1:
        return False
    # A break that leaves fields null shows only where one of them is asked for.
    nulled = [_camel(name) for name in breakage.nulled]
    return not nulled or any(re.search(rf"\b{name}\b", case.document) for name in nulled)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _break(monkeypatch: pytest.MonkeyPatch, broken: Breakage) -> None:
    original = broken.owner.from_model

    def from_model(row: Any) -> Any:
        made = original(row)
        if broken.chosen(row):
            if not broken.nulled:
                raise RuntimeError("broken on purpose")
            for attribute in broken.nulled:
                setattr(made, attribute, None)
        return made

    monkeypatch.setattr(broken.owner, "from_model", from_model)
    python_plans_only(monkeypatch)  # Postgres' JSON is not made through from_model


@pytest.fixture(params=sorted(BREAKAGES))
def breakage(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Breakage:
    broken = BREAKAGES[request.param]
    _break(monkeypatch, broken)
    return broken


async def test_an_error_in_the_middle_of_a_list_is_answered_alike(
    differential: Differential, breakage: Breakage
) -> None:
    reaching = [c for c in differential.cases if _one_failure_at_a_time(c, breakage)][:BROKEN_CASES]
    # One document sure to meet every break, whatever the generated ones happen to ask.
    whole_map = Case("query", WHOLE_MAP, {"id": differential.ids.journey_map[0]})
    reaching.append(whole_map)
    outcomes = [await run(differential, case) for case in reaching]
    # A request that dies (either way) of the known bug pinned below is not compared.
    died = [o for o in outcomes if CRASHED in (o.ordinary, o.planned)]
    assert len(died) <= len(outcomes) // 10, [o.ordinary[:200] for o in died]
    divergences = [
        report(case, outcome)
        for case, outcome in zip(reaching, outcomes, strict=True)
        if not outcome.alike and outcome not in died
    ]
    assert not divergences, f"{len(divergences)} divergences:" + "".join(divergences[:3])
    # The break showed (in the middle of a list where a field was left null), and plans
    # met it and fell back.
    errors = [e for o in outcomes for e in _internal(o)]
    assert errors
    if breakage.nulled:
        assert any(_past_the_first_item(e) for e in errors), errors[:3]
    assert sum(o.fell_back for o in outcomes) > 0


# --------------------------------------------------------------------------- known divergences
#
# Found by the tests above, minimised; each is left out of the generated cases (null
# condition variables are not drawn; with an injected error, one root and one selection
# of the broken list, and requests that die are not compared) and pinned here.


async def _map_read(differential: Differential, document: str, **variables: Any) -> Outcome:
    journey_map = differential.ids.journey_map[0]
    return await run(differential, Case("query", document, {"id": journey_map, **variables}))


async def test_a_null_condition_variable_under_a_planned_field_is_located_alike(
    differential: Differential,
) -> None:
    # Both: {"data": {"journeyMap": {"health": null, "title": "Journey"}},
    #        "errors": [{..., "path": ["journeyMap", "health"]}]}; the planner once let the
    # error escape and nulled the map instead.
    outcome = await _map_read(
        differential,
        "query Q($id: ID!, $b: Boolean = true) { journeyMap(id: $id) "
        "{ title health { score @include(if: $b) } } }",
        b=None,
    )
    assert outcome.alike, (outcome.ordinary, outcome.planned)


async def test_two_failing_fields_errors_are_listed_in_document_order_both_ways(
    differential: Differential, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break(monkeypatch, BREAKAGES["the middle stage raises"])
    # a's stages are planned, b's are not (a persona emotion has its own resolver): a
    # planned field's error, reported when it is run again, came last; errors are now
    # listed by their places, ["a", "stages"] then ["b", "stages"], both ways.
    outcome = await _map_read(
        differential,
        "query Q($id: ID!) { a: journeyMap(id: $id) { stages { name } } "
        "b: journeyMap(id: $id) { stages { touchpoints { personaEmotions { current } } } } }",
    )
    assert outcome.alike, (outcome.ordinary, outcome.planned)


@pytest.mark.parametrize("planned", [False, True], ids=["ordinary", "planned"])
async def test_a_failing_field_cancelling_its_siblings_leaves_shared_loads_alone(
    differential: Differential, monkeypatch: pytest.MonkeyPatch, planned: bool
) -> None:
    _break(monkeypatch, BREAKAGES["the middle stage raises"])
    # A failing non-null field makes graphql-core cancel its siblings; one awaiting a
    # DataLoader future shared with another field must not cancel it for that one too.
    fetch = HealthScoreBySubjectLoader.fetch_rows

    async def slow_fetch(self: Any, rows: Any, keys: Any) -> Any:
        await asyncio.sleep(0.05)  # the scores are still loading when the stage fails
        return await fetch(self, rows, keys)

    monkeypatch.setattr(HealthScoreBySubjectLoader, "fetch_rows", slow_fetch)
    # Expected: {"data": {"a": null, "b": {"health": {"score": ...}}}, "errors": [a.stages]}
    document = (
        "query Q($id: ID!) { a: journeyMap(id: $id) { stages { name } health { score } } "
        "b: journeyMap(id: $id) { health { score } } }"
    )
    case = Case("query", document, {"id": differential.ids.journey_map[0]})
    answered = await _answer_or_crash(differential.clients[planned], case, differential.token)
    assert answered.startswith("{"), answered
