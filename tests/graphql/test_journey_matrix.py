"""Every journey mutation, table-driven: success, validation, roles, tenancy, stale versions.

``ROWS`` holds one row per mutation: how to build a valid and an invalid input
from a realistic map (the ``world`` fixture) and what tenant A's journey data
looks like after the valid call. Every row goes through the same four tests, and
every row whose input takes an ``expectedVersion`` through the stale-version test.
"Nothing changed" always means: a full nested read of the workspace's journey
data (``_state``) is identical before and after. Bugs found on the way have a test
of their own at the end.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from unittest.mock import ANY
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from graphql import build_schema
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.relay import GlobalID

from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.types import utcnow
from backend.journeys import snapshots
from backend.models import (
    Initiative,
    JourneyMap,
    JourneyMapPersona,
    JourneyMapRevision,
    Metric,
    Opportunity,
    PainPoint,
    Persona,
    Stage,
    Touchpoint,
    TouchpointEmotion,
)
from backend.vocabulary.audit import AuditAction
from backend.vocabulary.initiatives import InitiativeStatus
from backend.vocabulary.journeys import FIVE_STAGES, Channel, Device, Severity
from backend.vocabulary.metrics import MetricDirection
from backend.vocabulary.roles import WorkspaceRole
from graphql_schema.schema import schema_sdl
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant, add_guest

Json = dict[str, Any]

# -- What a read shows of each object ------------------------------------------------------

FRAGMENTS = {
    "PersonaFields": """fragment PersonaFields on Persona { id name summary quote ageMin ageMax
      occupation location goals frustrations behaviors preferredChannels segmentShare avatarUrl
      createdAt updatedAt }""",
    # With its pain points and opportunities, a whole map is over the query cost limit
    # (QUERY_TOO_COMPLEX): _state reads those through the touchpoints (Findings), and a
    # mutation's payload asks for the map's skeleton only.
    "MapFields": """fragment MapFields on JourneyMap { id title description objectives status
      scenario departments version createdAt updatedAt personas { id name }
      stages { id name description position customerGoals questions
        touchpoints { ...TouchpointCore } } }""",
    "MapSkeleton": """fragment MapSkeleton on JourneyMap { id title description objectives
      status scenario departments version createdAt updatedAt personas { id name }
      stages { id name position touchpoints { id name position } } }""",
    "StageFields": """fragment StageFields on Stage { id name description position customerGoals
      questions touchpoints { ...TouchpointFields } }""",
    "TouchpointCore": """fragment TouchpointCore on Touchpoint { id name description position
      channel device customerActions customerGoals questions emotion momentOfTruth
      owningDepartment matchKeys { eventNames urlPatterns surveyIds }
      personaEmotions { current target persona { id } } }""",
    "TouchpointFields": """fragment TouchpointFields on Touchpoint { ...TouchpointCore
      painPoints { ...PainPointFields } opportunities { ...OpportunityFields } }""",
    "PainPointFields": """fragment PainPointFields on PainPoint { id title description severity
      status createdAt }""",
    "Findings": """fragment Findings on Touchpoint { id painPoints { ...PainPointFields }
      opportunities { ...OpportunityFields } }""",
    "OpportunityFields": """fragment OpportunityFields on Opportunity { id title description
      status painPointId createdAt }""",
}
_SPREAD = re.compile(r"\.\.\.(\w+)")


def _with_fragments(document: str) -> str:
    """The document followed by every fragment it uses, directly or through another."""
    needed: list[str] = []
    pending = _SPREAD.findall(document)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.append(name)
            pending += _SPREAD.findall(FRAGMENTS[name])
    return "\n".join([document, *(FRAGMENTS[name] for name in sorted(needed))])


# A touchpoint the world does not name (a new one) is read without its findings.
STATE = _with_fragments(
    """query($map: ID!, $persona: ID!, $ws: ID!, $ad: ID!, $pay: ID!, $receipt: ID!) {
      journeyMap(id: $map) { ...MapFields revisions(first: 1) { totalCount } }
      ad: node(id: $ad) { ...Findings }
      pay: node(id: $pay) { ...Findings }
      receipt: node(id: $receipt) { ...Findings }
      persona: node(id: $persona) { ...PersonaFields }
      workspace(id: $ws) {
        personas { edges { node { id name } } }
        journeyMaps { edges { node { id title } } }
        deletedJourneyMaps { edges { node { id title } } }
        auditEvents(first: 1) { totalCount edges { node {
          action subjectType subjectId actor { type tokenId user { email } } } } } } }"""
)
FINDINGS = ("painPoints", "opportunities")  # what Findings adds to a touchpoint


# -- The world: a realistic map in tenant A ------------------------------------------------


@dataclass(frozen=True)
class World:
    """Tenant A's first workspace, as global ids.

    Map "Checkout" (at ``version`` 2) features the persona and has two stages:
    "Discover" [Instagram ad] and "Buy" [Pay, Receipt email]; "Pay" carries the
    persona's emotion, pain point "Card declined" and opportunity "Offer PayPal"
    answering it. Version 1 is the same map without the opportunity. Map
    "Returns (2023)" was deleted at ``deleted_version`` 3.
    """

    ws: str
    persona: str
    map: str
    version: int
    discover: str
    buy: str
    ad: str
    pay: str
    receipt: str
    pain: str
    idea: str
    deleted_map: str
    deleted_version: int
    metric: str  # "Checkout conversion", on the map
    initiative: str  # "One-tap pay", on Pay and its pain point, aiming at the metric


async def _seed(database: Database, tenant: Tenant) -> World:
    """Write the world straight to the database: one transaction, no API calls."""
    ws, owner = tenant.workspace_ids[0], tenant.owner_id

    def row(model: Any, **values: Any) -> Any:
        return model(workspace_id=ws, id=uuid4(), **values)

    def journey_map(title: str, version: int, **values: Any) -> JourneyMap:
        by = {"created_by": owner, "updated_by": owner}
        return row(JourneyMap, title=title, version=version, **by, **values)

    def touchpoint(stage: Stage, position: int, name: str, **values: Any) -> Touchpoint:
        on_stage = {"journey_map_id": stage.journey_map_id, "stage_id": stage.id}
        return row(Touchpoint, **on_stage, position=position, name=name, **values)

    parent = row(Persona, name="Busy parent", goals=["Save time"], age_min=30, age_max=45)
    journey = journey_map("Checkout", 1, objectives=["Fewer abandoned carts"])
    old = journey_map("Returns (2023)", 3, deleted_at=utcnow(), deleted_by=owner)
    featured = row(JourneyMapPersona, journey_map_id=journey.id, persona_id=parent.id)
    discover = row(Stage, journey_map_id=journey.id, position=0, name="Discover")
    buy = row(Stage, journey_map_id=journey.id, position=1, name="Buy")
    ad = touchpoint(discover, 0, "Instagram ad", channel=Channel.SOCIAL, emotion=1)
    pay = touchpoint(
        buy,
        0,
        "Pay",
        channel=Channel.WEB,
        device=Device.SMARTPHONE,
        emotion=-1,
        moment_of_truth=True,
        match_keys={"event_names": ["checkout_paid"], "url_patterns": [], "survey_ids": []},
    )
    receipt = touchpoint(buy, 1, "Receipt email", channel=Channel.EMAIL)
    feeling = row(
        TouchpointEmotion, touchpoint_id=pay.id, persona_id=parent.id, current=-1, target=1
    )
    pain = row(PainPoint, touchpoint_id=pay.id, title="Card declined", severity=Severity.HIGH)
    idea = row(Opportunity, touchpoint_id=pay.id, title="Offer PayPal", pain_point_id=pain.id)
    conversion = row(
        Metric,
        name="Checkout conversion",
        unit="%",
        direction=MetricDirection.HIGHER_IS_BETTER,
        target=60.0,
        journey_map_id=journey.id,
    )
    one_tap = row(
        Initiative,
        title="One-tap pay",
        status=InitiativeStatus.PLANNED,
        owner_id=owner,
        impact=4,
        effort=2,
        confidence=0.8,
        reach=1000,
        priority=1600.0,
        touchpoint_ids=[str(pay.id)],
        pain_point_ids=[str(pain.id)],
        target_metric_id=conversion.id,
    )
    async with database.transaction(TenantBinding(frozenset({ws})), write=True) as s:
        # No ORM relationships tie these tables: insert parents first.
        for level in (
            [parent, journey, old],
            [featured, discover, buy],
            [ad, pay, receipt],
            [feeling, pain, conversion, one_tap],
        ):
            s.add_all(level)
            await s.flush()
        await _record_revision(s, journey, owner)  # version 1: without the opportunity
        s.add(idea)
        journey.version = 2
        await _record_revision(s, journey, owner)
    return World(
        ws=tenant.ws_gid(0),
        persona=global_id("Persona", parent.id),
        map=global_id("JourneyMap", journey.id),
        version=journey.version,
        discover=global_id("Stage", discover.id),
        buy=global_id("Stage", buy.id),
        ad=global_id("Touchpoint", ad.id),
        pay=global_id("Touchpoint", pay.id),
        receipt=global_id("Touchpoint", receipt.id),
        pain=global_id("PainPoint", pain.id),
        idea=global_id("Opportunity", idea.id),
        deleted_map=global_id("JourneyMap", old.id),
        deleted_version=old.version,
        metric=global_id("Metric", conversion.id),
        initiative=global_id("Initiative", one_tap.id),
    )


async def _record_revision(s: AsyncSession, journey: JourneyMap, owner: UUID) -> None:
    """The revision the API would have written for the map's current version."""
    await s.flush()
    s.add(
        JourneyMapRevision(
            workspace_id=journey.workspace_id,
            journey_map_id=journey.id,
            version=journey.version,
            action="seed",
            snapshot=await snapshots.snapshot(s, journey),
            created_at=utcnow(),
            created_by=owner,
        )
    )
    await s.flush()


@pytest_asyncio.fixture(loop_scope="session")
async def world(database: Database, tenant_a: Tenant) -> World:
    return await _seed(database, tenant_a)


async def _state(gql: GraphQLClient, tenant: Tenant, world: World) -> Json:
    """All that tenant A's owner can read of the journey data a mutation could touch."""
    touchpoints = {"ad": world.ad, "pay": world.pay, "receipt": world.receipt}
    variables = {"map": world.map, "persona": world.persona, "ws": world.ws, **touchpoints}
    data = (await gql(STATE, variables, token=tenant.token))["data"]
    journey = data["journeyMap"]
    revisions = journey.pop("revisions")["totalCount"] if journey else None
    if journey:
        found = {data[name]["id"]: data[name] for name in touchpoints if data[name]}
        for stage in journey["stages"]:
            for touchpoint in stage["touchpoints"]:
                touchpoint.update(found.pop(touchpoint["id"], {}))
        assert found == {}, f"touchpoints missing from the map: {found}"
    workspace = data["workspace"]

    def listed(connection: str) -> list[Json]:
        return [edge["node"] for edge in workspace[connection]["edges"]]

    return {
        "map": journey,
        "revisions": revisions,
        "persona": data["persona"],
        "personas": listed("personas"),
        "maps": listed("journeyMaps"),
        "deleted": listed("deletedJourneyMaps"),
        "audit": workspace["auditEvents"]["totalCount"],
        "last_event": listed("auditEvents")[0] if workspace["auditEvents"]["edges"] else None,
    }


def _stable(value: Any) -> Any:
    """``value`` without its ``updatedAt`` timestamps."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k != "updatedAt"}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


# -- Helpers to find things in a state --------------------------------------------------------


def _by_id(items: list[Json], id_: str) -> Json:
    return next(item for item in items if item["id"] == id_)


def _stage(state: Json, id_: str) -> Json:
    return _by_id(state["map"]["stages"], id_)


def _touchpoint(state: Json, id_: str) -> Json:
    return _by_id([t for s in state["map"]["stages"] for t in s["touchpoints"]], id_)


def _renumber(items: list[Json]) -> None:
    for position, item in enumerate(items):
        item["position"] = position


def _shape(journey: Json) -> Any:
    """A map's content without ids: what a deep copy must reproduce."""
    return [
        (
            s["name"],
            [
                (
                    t["name"],
                    t["channel"],
                    t["emotion"],
                    [(p["title"], p["severity"]) for p in t["painPoints"]],
                    [o["title"] for o in t["opportunities"]],
                    [(e["persona"]["id"], e["current"], e["target"]) for e in t["personaEmotions"]],
                )
                for t in s["touchpoints"]
            ],
        )
        for s in journey["stages"]
    ]


def _skeleton(journey: Json) -> Json:
    """What MapSkeleton reads of a map."""
    stages = [
        {
            "id": s["id"],
            "name": s["name"],
            "position": s["position"],
            "touchpoints": [
                {"id": t["id"], "name": t["name"], "position": t["position"]}
                for t in s["touchpoints"]
            ],
        }
        for s in journey["stages"]
    ]
    return {**journey, "stages": stages}


# -- What each mutation does: expect(world, payload, state) ---------------------------------
# Each gets the world, the success payload and a copy of the state before the call
# (already with one more audit event and, for map-content rows, the map one version and
# one revision further); it checks the payload's object and edits the copy into the state
# expected after the call. Everything it leaves alone must not change.


def _create_persona(w: World, p: Json, s: Json) -> None:
    new = p["persona"]
    assert (new["name"], new["goals"], new["preferredChannels"]) == ("Student", ["Exams"], ["SMS"])
    assert (new["ageMin"], new["ageMax"], new["segmentShare"]) == (18, 25, 0.2)
    s["personas"] = sorted([*s["personas"], {"id": new["id"], "name": "Student"}], key=_name)


def _name(item: Json) -> str:
    return str(item["name"])


def _update_persona(w: World, p: Json, s: Json) -> None:
    s["persona"].update(name="Busy parent of two", summary="Short on time", ageMax=50)
    assert _stable(p["persona"]) == _stable(s["persona"])
    s["personas"] = [{"id": w.persona, "name": "Busy parent of two"}]
    s["map"]["personas"] = [{"id": w.persona, "name": "Busy parent of two"}]


def _delete_persona(w: World, p: Json, s: Json) -> None:
    assert p["deletedPersonaId"] == w.persona
    s["persona"], s["personas"] = None, []
    # The map drops the persona and its emotions, as a new version.
    s["map"]["personas"] = []
    _touchpoint(s, w.pay)["personaEmotions"] = []
    s["map"]["version"] += 1
    s["revisions"] += 1


def _create_map(w: World, p: Json, s: Json) -> None:
    new = p["journeyMap"]
    assert new["id"] != w.map
    assert (new["title"], new["version"], new["status"], new["scenario"]) == (
        "Returns",
        1,
        "DRAFT",
        "FUTURE_STATE",
    )
    assert new["personas"] == [{"id": w.persona, "name": "Busy parent"}]
    assert [(st["name"], st["position"]) for st in new["stages"]] == [
        (name, n) for n, name in enumerate(FIVE_STAGES)
    ]
    s["maps"] = sorted([*s["maps"], {"id": new["id"], "title": "Returns"}], key=_title)


def _title(item: Json) -> str:
    return str(item["title"])


def _update_map(w: World, p: Json, s: Json) -> None:
    s["map"].update(title="Checkout v2", status="ACTIVE", departments=["Payments", "Support"])
    s["maps"] = [{"id": w.map, "title": "Checkout v2"}]
    assert _stable(p["journeyMap"]) == _stable(_skeleton(s["map"]))


def _duplicate_map(w: World, p: Json, s: Json) -> None:
    copy_ = p["journeyMap"]
    original = s["map"]
    assert (copy_["title"], copy_["version"], copy_["scenario"]) == (
        "Checkout (future)",
        1,
        "FUTURE_STATE",
    )
    assert copy_["objectives"] == original["objectives"]
    assert copy_["personas"] == original["personas"]
    assert _shape(copy_) == _shape(original)
    copied_ids = {s["id"] for s in copy_["stages"]} | {
        t["id"] for st in copy_["stages"] for t in st["touchpoints"]
    }
    assert copied_ids.isdisjoint({w.map, w.discover, w.buy, w.ad, w.pay, w.receipt})
    pay = copy_["stages"][1]["touchpoints"][0]
    assert pay["opportunities"][0]["painPointId"] == pay["painPoints"][0]["id"] != w.pain
    s["maps"] = sorted([*s["maps"], {"id": copy_["id"], "title": "Checkout (future)"}], key=_title)


def _delete_map(w: World, p: Json, s: Json) -> None:
    assert p["deletedJourneyMapId"] == w.map
    s["map"] = s["revisions"] = None
    s["maps"] = []
    s["deleted"] = [{"id": w.map, "title": "Checkout"}, *s["deleted"]]  # newest first


def _restore_deleted_map(w: World, p: Json, s: Json) -> None:
    assert (p["journeyMap"]["id"], p["journeyMap"]["title"]) == (w.deleted_map, "Returns (2023)")
    assert p["journeyMap"]["version"] == w.deleted_version
    s["deleted"] = []
    s["maps"] = sorted([*s["maps"], {"id": w.deleted_map, "title": "Returns (2023)"}], key=_title)


def _restore_revision(w: World, p: Json, s: Json) -> None:
    pay = _touchpoint(s, w.pay)
    pay["opportunities"] = []  # the version before the opportunity
    for pain in pay["painPoints"]:
        pain["createdAt"] = ANY  # re-dated: see test_restoring_the_current_version_...
    assert _stable(p["journeyMap"]) == _stable(_skeleton(s["map"]))


def _add_stage(w: World, p: Json, s: Json) -> None:
    new = p["stage"]
    assert (new["name"], new["position"], new["customerGoals"], new["touchpoints"]) == (
        "Compare",
        1,
        ["Find the best price"],
        [],
    )
    s["map"]["stages"].insert(1, new)
    _renumber(s["map"]["stages"])


def _update_stage(w: World, p: Json, s: Json) -> None:
    _stage(s, w.discover).update(
        name="Discovery", description="First contact", questions=["Is it for me?"]
    )
    assert p["stage"] == _stage(s, w.discover)


def _move_stage(w: World, p: Json, s: Json) -> None:
    s["map"]["stages"].reverse()
    _renumber(s["map"]["stages"])
    assert p["stage"] == _stage(s, w.buy)


def _remove_stage(w: World, p: Json, s: Json) -> None:
    assert p["removedId"] == w.discover
    s["map"]["stages"] = [st for st in s["map"]["stages"] if st["id"] != w.discover]
    _renumber(s["map"]["stages"])


def _add_touchpoint(w: World, p: Json, s: Json) -> None:
    new = p["touchpoint"]
    assert (new["name"], new["position"], new["channel"], new["device"], new["emotion"]) == (
        "Price comparison site",
        0,
        "WEB",
        "DESKTOP",
        0,
    )
    assert new["matchKeys"] == {"eventNames": [], "urlPatterns": ["/compare*"], "surveyIds": []}
    assert new["personaEmotions"] == [{"current": 0, "target": 2, "persona": {"id": w.persona}}]
    assert (new["painPoints"], new["opportunities"]) == ([], [])
    touchpoints = _stage(s, w.discover)["touchpoints"]
    touchpoints.insert(0, {k: v for k, v in new.items() if k not in FINDINGS})
    _renumber(touchpoints)


def _update_touchpoint(w: World, p: Json, s: Json) -> None:
    _touchpoint(s, w.pay).update(
        name="Pay by card",
        emotion=-2,
        owningDepartment="Payments",
        customerActions=["Enter card number"],
        personaEmotions=[{"current": -2, "target": 2, "persona": {"id": w.persona}}],
    )
    assert p["touchpoint"] == _touchpoint(s, w.pay)


def _move_touchpoint(w: World, p: Json, s: Json) -> None:
    receipt = _touchpoint(s, w.receipt)
    buy, discover = _stage(s, w.buy)["touchpoints"], _stage(s, w.discover)["touchpoints"]
    buy.remove(receipt)
    discover.insert(0, receipt)
    _renumber(buy)
    _renumber(discover)
    assert p["touchpoint"] == receipt


def _remove_touchpoint(w: World, p: Json, s: Json) -> None:
    assert p["removedId"] == w.pay
    buy = _stage(s, w.buy)
    buy["touchpoints"] = [t for t in buy["touchpoints"] if t["id"] != w.pay]
    _renumber(buy["touchpoints"])


def _add_pain_point(w: World, p: Json, s: Json) -> None:
    new = p["painPoint"]
    assert (new["title"], new["description"], new["severity"], new["status"]) == (
        "Too many form fields",
        "Eleven of them",
        "MEDIUM",
        "OPEN",
    )
    _touchpoint(s, w.pay)["painPoints"].append(new)


def _update_pain_point(w: World, p: Json, s: Json) -> None:
    pain = _by_id(_touchpoint(s, w.pay)["painPoints"], w.pain)
    pain.update(status="RESOLVED", severity="LOW")
    assert p["painPoint"] == pain


def _delete_pain_point(w: World, p: Json, s: Json) -> None:
    assert p["deletedPainPointId"] == w.pain
    pay = _touchpoint(s, w.pay)
    pay["painPoints"] = [pain for pain in pay["painPoints"] if pain["id"] != w.pain]
    # The opportunity it opened stays, answering none.
    _by_id(pay["opportunities"], w.idea)["painPointId"] = None


def _delete_opportunity(w: World, p: Json, s: Json) -> None:
    assert p["deletedOpportunityId"] == w.idea
    pay = _touchpoint(s, w.pay)
    pay["opportunities"] = [idea for idea in pay["opportunities"] if idea["id"] != w.idea]


def _add_opportunity(w: World, p: Json, s: Json) -> None:
    new = p["opportunity"]
    assert (new["title"], new["status"], new["painPointId"]) == ("Save the card", "PLANNED", w.pain)
    _touchpoint(s, w.pay)["opportunities"].append(new)


def _update_opportunity(w: World, p: Json, s: Json) -> None:
    idea = _by_id(_touchpoint(s, w.pay)["opportunities"], w.idea)
    idea.update(title="Offer PayPal and Klarna", status="DONE")
    assert p["opportunity"] == idea


# -- The table -------------------------------------------------------------------------------

PERSONA = "persona { ...PersonaFields }"
JOURNEY_MAP = "journeyMap { ...MapSkeleton }"
COPY = """journeyMap { id title version scenario objectives personas { id name } stages { id name
  touchpoints { id name channel emotion painPoints { id title severity }
    opportunities { title painPointId } personaEmotions { current target persona { id } } } } }"""
IN_MAP = "journeyMap { id version }"
STAGE = f"stage {{ ...StageFields }} {IN_MAP}"
TOUCHPOINT = f"touchpoint {{ ...TouchpointFields }} {IN_MAP}"
PAIN_POINT = f"painPoint {{ ...PainPointFields }} {IN_MAP}"
OPPORTUNITY = f"opportunity {{ ...OpportunityFields }} {IN_MAP}"
REMOVED = f"removedId {IN_MAP}"


def _map_version(w: World) -> int:
    return w.version


@dataclass(frozen=True)
class Row:
    mutation: str
    action: str  # what the audit trail calls it
    selection: str  # what to ask of the payload, besides its errors
    target: str  # the input field naming what the mutation acts on (or in)
    target_type: str  # the global id type of that field
    valid: Callable[[World], Json]
    expect: Callable[[World, Json, Json], None]
    invalid: Callable[[World], Json]
    invalid_field: str
    # Map-content: bumps the map's version by one and records a revision.
    content: bool = False
    # The version a correct expectedVersion names; None: the input has no expectedVersion.
    version: Callable[[World], int] | None = None
    role: WorkspaceRole = WorkspaceRole.EDITOR  # the weakest role allowed to call it
    input_type: str = ""  # default: the mutation's name + "Input"

    @property
    def document(self) -> str:
        input_type = self.input_type or f"{self.mutation[0].upper()}{self.mutation[1:]}Input"
        return _with_fragments(
            f"mutation($input: {input_type}!) {{ {self.mutation}(input: $input) {{ "
            f"{self.selection} errors {{ code message field }} }} }}"
        )


def _content(**row: Any) -> Row:
    """A row for a mutation of a map's content (which honours expectedVersion)."""
    return Row(**row, content=True, version=_map_version)


ROWS = [
    Row(
        mutation="createPersona",
        action="persona.create",
        selection=PERSONA,
        target="workspaceId",
        target_type="Workspace",
        valid=lambda w: {
            "workspaceId": w.ws,
            "name": " Student ",
            "goals": ["Exams", "Exams"],
            "preferredChannels": ["SMS"],
            "ageMin": 18,
            "ageMax": 25,
            "segmentShare": 0.2,
        },
        expect=_create_persona,
        invalid=lambda w: {"workspaceId": w.ws, "name": "Student", "ageMin": 50, "ageMax": 20},
        invalid_field="input.ageMin",
    ),
    Row(
        mutation="updatePersona",
        action="persona.update",
        selection=PERSONA,
        target="id",
        target_type="Persona",
        valid=lambda w: {
            "id": w.persona,
            "name": "Busy parent of two",
            "summary": "Short on time",
            "ageMax": 50,
        },
        expect=_update_persona,
        invalid=lambda w: {"id": w.persona, "summary": "Tired", "segmentShare": 1.5},
        invalid_field="input.segmentShare",
    ),
    Row(
        mutation="deletePersona",
        action="persona.delete",
        selection="deletedPersonaId",
        target="id",
        target_type="Persona",
        valid=lambda w: {"id": w.persona},
        expect=_delete_persona,
        invalid=lambda w: {"id": "not-a-persona-id"},
        invalid_field="input.id",
        role=WorkspaceRole.ADMIN,  # a deletion that cannot be undone
    ),
    Row(
        mutation="createJourneyMap",
        action="journey_map.create",
        selection=JOURNEY_MAP,
        target="workspaceId",
        target_type="Workspace",
        valid=lambda w: {
            "workspaceId": w.ws,
            "title": "Returns",
            "template": "FIVE_STAGE",
            "scenario": "FUTURE_STATE",
            "personaIds": [w.persona],
        },
        expect=_create_map,
        invalid=lambda w: {"workspaceId": w.ws, "title": "Returns", "objectives": ["Fast", " "]},
        invalid_field="input.objectives[1]",
    ),
    _content(
        mutation="updateJourneyMap",
        action="journey_map.update",
        selection=JOURNEY_MAP,
        target="id",
        target_type="JourneyMap",
        valid=lambda w: {
            "id": w.map,
            "title": "Checkout v2",
            "status": "ACTIVE",
            "departments": ["Payments", "Support"],
        },
        expect=_update_map,
        invalid=lambda w: {"id": w.map, "title": "Checkout v2", "status": None},
        invalid_field="input.status",
    ),
    Row(
        mutation="duplicateJourneyMap",
        action="journey_map.duplicate",
        selection=COPY,
        target="id",
        target_type="JourneyMap",
        valid=lambda w: {"id": w.map, "title": "Checkout (future)", "scenario": "FUTURE_STATE"},
        expect=_duplicate_map,
        invalid=lambda w: {"id": w.map, "title": "   "},
        invalid_field="input.title",
    ),
    Row(
        mutation="deleteJourneyMap",
        action="journey_map.delete",
        selection="deletedJourneyMapId",
        target="id",
        target_type="JourneyMap",
        valid=lambda w: {"id": w.map},
        expect=_delete_map,
        invalid=lambda w: {"id": "not-a-map-id"},
        invalid_field="input.id",
        version=_map_version,
        role=WorkspaceRole.ADMIN,
    ),
    Row(
        mutation="restoreDeletedJourneyMap",
        action="journey_map.undelete",
        selection="journeyMap { id title version }",
        target="id",
        target_type="JourneyMap",
        valid=lambda w: {"id": w.deleted_map},
        expect=_restore_deleted_map,
        invalid=lambda w: {"id": "not-a-map-id"},
        invalid_field="input.id",
        version=lambda w: w.deleted_version,
        role=WorkspaceRole.ADMIN,
        input_type="DeleteJourneyMapInput",
    ),
    _content(
        mutation="restoreJourneyMapRevision",
        action="journey_map.restore",
        selection=JOURNEY_MAP,
        target="journeyMapId",
        target_type="JourneyMap",
        valid=lambda w: {"journeyMapId": w.map, "version": w.version - 1},
        expect=_restore_revision,
        invalid=lambda w: {"journeyMapId": "not-a-map-id", "version": 1},
        invalid_field="input.journeyMapId",
    ),
    _content(
        mutation="addStage",
        action="stage.add",
        selection=STAGE,
        target="journeyMapId",
        target_type="JourneyMap",
        valid=lambda w: {
            "journeyMapId": w.map,
            "name": "Compare",
            "customerGoals": ["Find the best price"],
            "position": 1,
        },
        expect=_add_stage,
        invalid=lambda w: {"journeyMapId": w.map, "name": "Compare", "position": 3},
        invalid_field="input.position",
    ),
    _content(
        mutation="updateStage",
        action="stage.update",
        selection=STAGE,
        target="id",
        target_type="Stage",
        valid=lambda w: {
            "id": w.discover,
            "name": "Discovery",
            "description": "First contact",
            "questions": ["Is it for me?"],
        },
        expect=_update_stage,
        invalid=lambda w: {"id": w.discover, "name": "Discovery", "customerGoals": ["a", "\t"]},
        invalid_field="input.customerGoals[1]",
    ),
    _content(
        mutation="moveStage",
        action="stage.move",
        selection=STAGE,
        target="id",
        target_type="Stage",
        valid=lambda w: {"id": w.buy, "position": 0},
        expect=_move_stage,
        invalid=lambda w: {"id": w.buy, "position": 2},
        invalid_field="input.position",
    ),
    _content(
        mutation="removeStage",
        action="stage.remove",
        selection=REMOVED,
        target="id",
        target_type="Stage",
        valid=lambda w: {"id": w.discover},
        expect=_remove_stage,
        invalid=lambda w: {"id": "not-a-stage-id"},
        invalid_field="input.id",
        input_type="RemoveInput",
    ),
    _content(
        mutation="addTouchpoint",
        action="touchpoint.add",
        selection=TOUCHPOINT,
        target="stageId",
        target_type="Stage",
        valid=lambda w: {
            "stageId": w.discover,
            "name": "Price comparison site",
            "channel": "WEB",
            "device": "DESKTOP",
            "emotion": 0,
            "position": 0,
            "matchKeys": {"urlPatterns": ["/compare*"]},
            "personaEmotions": [{"personaId": w.persona, "current": 0, "target": 2}],
        },
        expect=_add_touchpoint,
        invalid=lambda w: {
            "stageId": w.discover,
            "name": "Price comparison site",
            "personaEmotions": [{"personaId": w.persona, "current": 0, "target": 3}],
        },
        invalid_field="input.personaEmotions[0].target",
    ),
    _content(
        mutation="updateTouchpoint",
        action="touchpoint.update",
        selection=TOUCHPOINT,
        target="id",
        target_type="Touchpoint",
        valid=lambda w: {
            "id": w.pay,
            "name": "Pay by card",
            "emotion": -2,
            "owningDepartment": "Payments",
            "customerActions": ["Enter card number"],
            "personaEmotions": [{"personaId": w.persona, "current": -2, "target": 2}],
        },
        expect=_update_touchpoint,
        invalid=lambda w: {
            "id": w.pay,
            "name": "Pay by card",
            "matchKeys": {"urlPatterns": ["/pay*", " "]},
        },
        invalid_field="input.matchKeys.urlPatterns[1]",
    ),
    _content(
        mutation="moveTouchpoint",
        action="touchpoint.move",
        selection=TOUCHPOINT,
        target="id",
        target_type="Touchpoint",
        valid=lambda w: {"id": w.receipt, "stageId": w.discover, "position": 0},
        expect=_move_touchpoint,
        invalid=lambda w: {"id": w.receipt, "stageId": w.discover, "position": 2},
        invalid_field="input.position",
    ),
    _content(
        mutation="removeTouchpoint",
        action="touchpoint.remove",
        selection=REMOVED,
        target="id",
        target_type="Touchpoint",
        valid=lambda w: {"id": w.pay},
        expect=_remove_touchpoint,
        invalid=lambda w: {"id": "not-a-touchpoint-id"},
        invalid_field="input.id",
        input_type="RemoveInput",
    ),
    _content(
        mutation="addPainPoint",
        action="pain_point.add",
        selection=PAIN_POINT,
        target="touchpointId",
        target_type="Touchpoint",
        valid=lambda w: {
            "touchpointId": w.pay,
            "title": "Too many form fields",
            "description": "Eleven of them",
            "severity": "MEDIUM",
        },
        expect=_add_pain_point,
        invalid=lambda w: {"touchpointId": w.pay, "title": " ", "severity": "MEDIUM"},
        invalid_field="input.title",
    ),
    _content(
        mutation="updatePainPoint",
        action="pain_point.update",
        selection=PAIN_POINT,
        target="id",
        target_type="PainPoint",
        valid=lambda w: {"id": w.pain, "status": "RESOLVED", "severity": "LOW"},
        expect=_update_pain_point,
        invalid=lambda w: {"id": w.pain, "status": "RESOLVED", "severity": None},
        invalid_field="input.severity",
    ),
    _content(
        mutation="deletePainPoint",
        action="pain_point.remove",
        selection=f"deletedPainPointId {IN_MAP}",
        target="id",
        target_type="PainPoint",
        valid=lambda w: {"id": w.pain},
        expect=_delete_pain_point,
        invalid=lambda w: {"id": "not-a-pain-point-id"},
        invalid_field="input.id",
    ),
    _content(
        mutation="addOpportunity",
        action="opportunity.add",
        selection=OPPORTUNITY,
        target="touchpointId",
        target_type="Touchpoint",
        valid=lambda w: {
            "touchpointId": w.pay,
            "title": "Save the card",
            "painPointId": w.pain,
            "status": "PLANNED",
        },
        expect=_add_opportunity,
        invalid=lambda w: {"touchpointId": w.pay, "title": "", "painPointId": w.pain},
        invalid_field="input.title",
    ),
    _content(
        mutation="updateOpportunity",
        action="opportunity.update",
        selection=OPPORTUNITY,
        target="id",
        target_type="Opportunity",
        valid=lambda w: {"id": w.idea, "title": "Offer PayPal and Klarna", "status": "DONE"},
        expect=_update_opportunity,
        invalid=lambda w: {"id": w.idea, "title": "x" * 201},
        invalid_field="input.title",
    ),
    _content(
        mutation="deleteOpportunity",
        action="opportunity.remove",
        selection=f"deletedOpportunityId {IN_MAP}",
        target="id",
        target_type="Opportunity",
        valid=lambda w: {"id": w.idea},
        expect=_delete_opportunity,
        invalid=lambda w: {"id": "not-an-opportunity-id"},
        invalid_field="input.id",
    ),
]


ROW = {row.mutation: row for row in ROWS}


def _rows(rows: list[Row]) -> list[Any]:
    """Test parameters, one per row, named after the mutation."""
    return [pytest.param(row, id=row.mutation) for row in rows]


async def _call(gql: GraphQLClient, row: Row, input_: Json, token: str) -> Json:
    body = await gql(row.document, {"input": input_}, token=token)
    return dict(body["data"][row.mutation])


def _refused(payload: Json) -> list[tuple[str, str | None]]:
    """The (code, field) of each error; a refused payload carries nothing else."""
    assert all(value is None for key, value in payload.items() if key != "errors"), payload
    return [(e["code"], e["field"]) for e in payload["errors"]]


# -- The tests ---------------------------------------------------------------------------------


async def test_the_world_is_the_map_the_rows_assume(
    gql: GraphQLClient, tenant_a: Tenant, world: World
) -> None:
    state = await _state(gql, tenant_a, world)
    journey = state["map"]
    assert (journey["title"], journey["version"], state["revisions"]) == ("Checkout", 2, 2)
    assert journey["personas"] == [{"id": world.persona, "name": "Busy parent"}]
    layout = [
        (s["id"], s["position"], [(t["id"], t["position"]) for t in s["touchpoints"]])
        for s in journey["stages"]
    ]
    assert layout == [
        (world.discover, 0, [(world.ad, 0)]),
        (world.buy, 1, [(world.pay, 0), (world.receipt, 1)]),
    ]
    pay = _touchpoint(state, world.pay)
    assert pay["personaEmotions"] == [
        {"current": -1, "target": 1, "persona": {"id": world.persona}}
    ]
    assert [p["id"] for p in pay["painPoints"]] == [world.pain]
    assert [(o["id"], o["painPointId"]) for o in pay["opportunities"]] == [(world.idea, world.pain)]
    assert state["deleted"] == [{"id": world.deleted_map, "title": "Returns (2023)"}]
    assert state["maps"] == [{"id": world.map, "title": "Checkout"}]


def test_every_journey_mutation_has_a_row() -> None:
    mutation = build_schema(schema_sdl()).mutation_type
    assert mutation is not None
    tenancy = {
        "createWorkspace",
        "updateWorkspace",
        "addWorkspaceMember",
        "createApiToken",
        "revokeApiToken",
    }
    identity = {
        "createSsoConnection",
        "updateSsoConnection",
        "disableSsoConnection",
        "claimDomain",
        "verifyDomain",
        "removeDomain",
        "signOutEverywhere",
    }
    membership = {
        "createInvitation",
        "revokeInvitation",
        "removeWorkspaceMember",
        "removeOrganizationMember",
    }
    feedback = {
        "submitFeedback",
        "submitFeedbackBatch",
        "createIngestionToken",
        "revokeIngestionToken",
        "placeFeedback",
        "createSurveyDefinition",
        "reviseSurveyDefinition",
    }
    health = {
        "recalculateHealth",
        "updateHealthSettings",
        "setHealthTarget",
        "markJourneyMapReviewed",
    }
    improvement = {
        "createInitiative",
        "updateInitiative",
        "deleteInitiative",
        "createMetric",
        "updateMetric",
        "deleteMetric",
        "recordMetricValues",
    }
    others = tenancy | identity | membership | feedback | health | improvement
    assert sorted(row.mutation for row in ROWS) == sorted(set(mutation.fields) - others)


@pytest.mark.parametrize("row", _rows(ROWS))
async def test_success(row: Row, gql: GraphQLClient, tenant_a: Tenant, world: World) -> None:
    before = await _state(gql, tenant_a, world)
    input_ = row.valid(world)
    if row.version is not None:
        input_["expectedVersion"] = row.version(world)  # a current one passes
    payload = await _call(gql, row, input_, tenant_a.token)
    assert payload["errors"] == [], payload
    after = await _state(gql, tenant_a, world)

    expected = copy.deepcopy(before)
    expected["audit"] += 1
    if row.content:
        expected["map"]["version"] += 1
        expected["revisions"] += 1
        assert payload["journeyMap"]["id"] == world.map
        assert payload["journeyMap"]["version"] == world.version + 1
        assert _when(after["map"]) > _when(before["map"])
    row.expect(world, payload, expected)
    event = after.pop("last_event")
    expected.pop("last_event")
    assert _stable(after) == _stable(expected)
    # Its one audit event names the mutation, the caller and what it acted on.
    assert (event["action"], event["actor"]["type"]) == (AuditAction(row.action).name, "API_TOKEN")
    assert event["actor"]["user"] == {"email": tenant_a.owner_email}
    assert event["subjectId"] in _ids(payload) | {input_[row.target]}
    assert GlobalID.from_id(event["subjectId"]).type_name == event["subjectType"]


def _ids(value: Any) -> set[str]:
    """Every ``id`` anywhere in a payload."""
    if isinstance(value, dict):
        return {v for k, v in value.items() if k == "id"} | {
            i for v in value.values() for i in _ids(v)
        }
    if isinstance(value, list):
        return {i for v in value for i in _ids(v)}
    return set()


def _when(journey: Json) -> datetime:
    return datetime.fromisoformat(journey["updatedAt"])


@pytest.mark.parametrize("row", _rows(ROWS))
async def test_invalid_input_is_a_located_validation_error(
    row: Row, gql: GraphQLClient, tenant_a: Tenant, world: World
) -> None:
    before = await _state(gql, tenant_a, world)
    payload = await _call(gql, row, row.invalid(world), tenant_a.token)
    assert _refused(payload) == [("VALIDATION", row.invalid_field)], payload
    assert await _state(gql, tenant_a, world) == before


def _too_weak(row: Row) -> list[WorkspaceRole]:
    return [
        role for role in (WorkspaceRole.VIEWER, WorkspaceRole.EDITOR) if not role.at_least(row.role)
    ]


@pytest.mark.parametrize(
    ("row", "role"),
    [
        pytest.param(row, role, id=f"{row.mutation}-{role.name}")
        for row in ROWS
        for role in _too_weak(row)
    ],
)
async def test_a_weaker_role_is_forbidden(
    row: Row,
    role: WorkspaceRole,
    gql: GraphQLClient,
    database: Database,
    tenant_a: Tenant,
    world: World,
) -> None:
    _, token = await add_guest(database, tenant_a.workspace_ids[0], "guest@client.example", role)
    before = await _state(gql, tenant_a, world)
    payload = await _call(gql, row, row.valid(world), token)
    assert _refused(payload) == [("FORBIDDEN", f"input.{row.target}")], payload
    assert await _state(gql, tenant_a, world) == before


@pytest.mark.parametrize("row", _rows(ROWS))
async def test_another_tenant_gets_not_found_like_for_an_unknown_id(
    row: Row, gql: GraphQLClient, tenant_a: Tenant, tenant_b: Tenant, world: World
) -> None:
    before = await _state(gql, tenant_a, world)
    input_ = row.valid(world)
    theirs = await _call(gql, row, input_, tenant_b.token)
    unknown_id = global_id(row.target_type, uuid4())
    unknown = await _call(gql, row, {**input_, row.target: unknown_id}, tenant_b.token)
    assert _refused(theirs) == [("NOT_FOUND", f"input.{row.target}")], theirs
    assert theirs == unknown
    assert await _state(gql, tenant_a, world) == before


@pytest.mark.parametrize(
    "row",
    _rows([row for row in ROWS if row.version is not None]),
)
async def test_a_stale_expected_version_is_a_conflict(
    row: Row, gql: GraphQLClient, tenant_a: Tenant, world: World
) -> None:
    assert row.version is not None
    before = await _state(gql, tenant_a, world)
    current = row.version(world)
    payload = await _call(
        gql, row, {**row.valid(world), "expectedVersion": current - 1}, tenant_a.token
    )
    # A payload with the map carries it as it is now (nothing else): the version to send
    # next. A deleted map is not read by its id: restoring one gets the message alone.
    carries = "journeyMap" in payload and row.mutation != "restoreDeletedJourneyMap"
    journey = payload.pop("journeyMap", None)
    assert _refused(payload) == [("CONFLICT", "input.expectedVersion")], payload
    assert f"version {current}" in payload["errors"][0]["message"]
    if carries:
        assert journey is not None, row.mutation
        assert (journey["id"], journey["version"]) == (world.map, current)
    else:
        assert journey is None
    assert await _state(gql, tenant_a, world) == before


# -- Bugs found on the way, each kept fixed by a test --------------------------------------


async def test_restoring_the_current_version_changes_nothing_but_the_version(
    gql: GraphQLClient, tenant_a: Tenant, world: World
) -> None:
    before = await _state(gql, tenant_a, world)
    restore = ROW["restoreJourneyMapRevision"]
    input_ = {"journeyMapId": world.map, "version": world.version}
    payload = await _call(gql, restore, input_, tenant_a.token)
    assert payload["errors"] == []
    expected = copy.deepcopy(before)
    expected["map"]["version"] += 1
    expected["revisions"] += 1
    expected["audit"] += 1
    after = await _state(gql, tenant_a, world)
    assert after.pop("last_event")["action"] == "JOURNEY_MAP_RESTORE"
    expected.pop("last_event")
    assert _stable(after) == _stable(expected)


async def test_a_deleted_maps_stages_and_touchpoints_go_with_it(
    gql: GraphQLClient, tenant_a: Tenant, world: World
) -> None:
    payload = await _call(gql, ROW["deleteJourneyMap"], {"id": world.map}, tenant_a.token)
    assert payload["errors"] == []
    body = await gql(
        """query($map: ID!, $stage: ID!, $touchpoint: ID!) { journeyMap(id: $map) { id }
             map: node(id: $map) { id } stage: node(id: $stage) { id }
             touchpoint: node(id: $touchpoint) { id } }""",
        {"map": world.map, "stage": world.buy, "touchpoint": world.pay},
        token=tenant_a.token,
    )
    assert body["data"] == {"journeyMap": None, "map": None, "stage": None, "touchpoint": None}


async def test_only_a_workspace_admin_deletes_a_persona(
    gql: GraphQLClient, database: Database, tenant_a: Tenant, world: World
) -> None:
    """A deleted persona cannot be restored: an EDITOR may change it, not delete it."""
    ws = tenant_a.workspace_ids[0]
    _, editor = await add_guest(database, ws, "editor@client.example", WorkspaceRole.EDITOR)
    _, admin = await add_guest(database, ws, "admin@client.example", WorkspaceRole.ADMIN)
    row = ROW["deletePersona"]
    read = "query($id: ID!) { node(id: $id) { id } }"

    refused = await _call(gql, row, {"id": world.persona}, editor)
    assert _refused(refused) == [("FORBIDDEN", "input.id")], refused
    persona = await gql(read, {"id": world.persona}, token=editor)
    assert persona["data"]["node"] == {"id": world.persona}

    deleted = await _call(gql, row, {"id": world.persona}, admin)
    assert deleted == {"deletedPersonaId": world.persona, "errors": []}
    assert (await gql(read, {"id": world.persona}, token=admin))["data"]["node"] is None
