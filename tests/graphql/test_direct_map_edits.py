"""Every edit stores the whole map as a revision: each touchpoint with its own pain points,
opportunities (and emotions), none of another's (the revision is grouped by touchpoint once
per edit, not scanned per touchpoint)."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from backend.audit.chain import to_json_value, to_stored_json
from backend.db.engine import Database
from backend.vocabulary.journeys import Channel, Severity
from tests.fixtures.graphql import GraphQLClient, global_id
from tests.fixtures.tenants import Tenant
from tests.health.worlds import add_pain, build_world

READ = """query($id: ID!) { journeyMap(id: $id) { version stages { name touchpoints { id name
  painPoints { title } opportunities { title } } }
  revisions(first: 1) { edges { node { version action snapshot } } } } }"""
RENAME = """mutation($input: UpdateTouchpointInput!) { updateTouchpoint(input: $input) {
  journeyMap { version } errors { code } } }"""
ADD_IDEA = """mutation($input: AddOpportunityInput!) { addOpportunity(input: $input) {
  opportunity { id } errors { code } } }"""


def _in_snapshot(snapshot: dict[str, Any]) -> dict[str, tuple[list[str], list[str], int]]:
    return {
        t["name"]: (
            [p["title"] for p in t["pain_points"]],
            [o["title"] for o in t["opportunities"]],
            len(t["emotions"]),
        )
        for stage in snapshot["stages"]
        for t in stage["touchpoints"]
    }


async def test_a_revision_holds_each_touchpoint_with_its_own_rows(
    gql: GraphQLClient, database: Database, tenant_a: Tenant
) -> None:
    world = await build_world(database, tenant_a.workspace_ids[0], stages=2)  # 4 touchpoints
    first, second, third, _fourth = world.touchpoint_ids
    await add_pain(database, world, first, Severity.HIGH, title="Queue")
    await add_pain(database, world, third, Severity.LOW, title="Noise")
    await add_pain(database, world, third, Severity.HIGH, title="Glare")
    added = await gql(
        ADD_IDEA,
        {"input": {"touchpointId": global_id("Touchpoint", second), "title": "Self-serve"}},
        token=tenant_a.token,
    )
    assert added["data"]["addOpportunity"]["errors"] == []
    map_id = global_id("JourneyMap", world.map_id)
    before = (await gql(READ, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    renamed = await gql(
        RENAME,
        {
            "input": {
                "id": global_id("Touchpoint", third),
                "name": "Renamed",
                "expectedVersion": before["version"],
            }
        },
        token=tenant_a.token,
    )
    assert renamed["data"]["updateTouchpoint"]["errors"] == []
    after = (await gql(READ, {"id": map_id}, token=tenant_a.token))["data"]["journeyMap"]
    revision = after["revisions"]["edges"][0]["node"]
    assert revision["version"] == before["version"] + 1
    in_snapshot = _in_snapshot(revision["snapshot"])
    in_map = {
        t["name"]: (
            [p["title"] for p in t["painPoints"]],
            [o["title"] for o in t["opportunities"]],
        )
        for stage in after["stages"]
        for t in stage["touchpoints"]
    }
    assert {name: rows[:2] for name, rows in in_snapshot.items()} == in_map
    assert sorted(in_snapshot["Renamed"][0]) == ["Glare", "Noise"]
    assert in_snapshot[next(iter(in_map))][0] == ["Queue"]
    assert sum(bool(rows[1]) for rows in in_snapshot.values()) == 1  # Self-serve, once


_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.uuids(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))])),
    st.sampled_from(list(Severity) + list(Channel)),
)
_values = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.frozensets(st.text(max_size=3), max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=30,
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(_values)
def test_a_revision_is_stored_as_the_audit_trails_json_would_store_it(value: Any) -> None:
    """orjson for the revision (large, stored, not hashed), json for the chain: the same
    values once read back, whatever the map holds."""
    assert to_stored_json(value) == to_json_value(value)


def test_what_orjson_cannot_write_takes_the_json_path() -> None:
    odd = {"big": 2**70, "nested": {"fine": 1.5}}
    assert to_stored_json(odd) == to_json_value(odd) == {"big": 2**70, "nested": {"fine": 1.5}}
