"""The query limits and the input guard remember what they passed (graphql_schema/
passed_checks.py): the same operation with the same variables is not walked again, a
refusal is made afresh every time, and only the very same arguments (as JSON, not as
Python compares them) count as the same."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import GraphQLSchema, parse
from hypothesis import given
from hypothesis import strategies as st

from backend.db.engine import Database
from backend.entrypoints.app import API_LIMITS
from backend.settings import Settings
from graphql_schema import input_guard, limits
from graphql_schema.input_guard import inspect_operation
from graphql_schema.limits import QueryLimits, check_limits
from graphql_schema.passed_checks import (
    MAX_TOTAL_CHARS,
    MAX_VARIABLE_VALUES,
    PassedChecks,
    caller_key,
    variables_key,
)
from graphql_schema.schema import build_schema
from tests.fixtures.planned import ordinary_and_planned
from tests.fixtures.tenants import Tenant

DASHBOARD = """query Dashboard($id: ID!, $first: Int = 20) { workspace(id: $id) { name
  journeyMaps(first: $first) { totalCount edges { node { id title } } } } }
query Other($id: ID!) { workspace(id: $id) { name } }"""
RENAME = """mutation Rename($input: UpdateTouchpointInput!) {
  updateTouchpoint(input: $input) { errors { code field } } }"""
WS = "V29ya3NwYWNlOjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMQ=="


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(Settings())._schema


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times each check walked an operation; both start with nothing kept."""
    counted = {"limits": 0, "guard": 0}
    analyze, inspected = limits._analyze, input_guard._inspected

    def counted_analyze(*args: Any) -> Any:
        counted["limits"] += 1
        return analyze(*args)

    def counted_inspected(*args: Any) -> Any:
        counted["guard"] += 1
        return inspected(*args)

    monkeypatch.setattr(limits, "_analyze", counted_analyze)
    monkeypatch.setattr(input_guard, "_inspected", counted_inspected)
    monkeypatch.setattr(limits, "_PASSED", PassedChecks())
    monkeypatch.setattr(input_guard, "_PASSED", PassedChecks())
    return counted


def test_an_operation_that_passed_is_not_walked_again_for_the_same_arguments(
    schema: GraphQLSchema, walks: dict[str, int]
) -> None:
    document = parse(DASHBOARD)
    sent = {"id": WS, "first": 10}
    for _ in range(3):
        assert check_limits(schema, document, "Dashboard", sent, API_LIMITS) == []
        assert inspect_operation(schema, document, "Dashboard", sent) == (None, {})
    assert walks == {"limits": 1, "guard": 1}
    # Anything the checks read that differs is walked: the variables, the operation,
    # the limits, the text (a parse of the same text is the same key).
    assert check_limits(schema, document, "Dashboard", {"id": WS, "first": 11}, API_LIMITS) == []
    assert check_limits(schema, document, "Other", sent, API_LIMITS) == []
    assert check_limits(schema, document, "Dashboard", sent, QueryLimits(max_depth=3)) != []
    assert check_limits(schema, parse(DASHBOARD), "Dashboard", sent, API_LIMITS) == []
    assert check_limits(schema, parse(DASHBOARD + " "), "Dashboard", sent, API_LIMITS) == []
    assert walks["limits"] == 5


def test_a_refusal_is_made_afresh_every_time(schema: GraphQLSchema, walks: dict[str, int]) -> None:
    """Over the page size, then the guard's too long string: each time walked again, and
    each time errors of the request's own (they are tagged with its request id)."""
    document = parse(DASHBOARD)
    too_many = {"id": WS, "first": 101}
    refusals = [check_limits(schema, document, "Dashboard", too_many, API_LIMITS) for _ in "ab"]
    assert all(r and r[0].extensions["limit"] == "page_size" for r in refusals)  # type: ignore[index]
    assert refusals[0][0] is not refusals[1][0]
    too_long = {"id": "x" * 20_001}
    verdicts = [inspect_operation(schema, document, "Dashboard", too_long) for _ in "ab"]
    assert all(v.refusal is not None for v in verdicts)
    assert verdicts[0].refusal is not verdicts[1].refusal
    assert walks == {"limits": 2, "guard": 2}
    # A mutation whose input the payload answers (a finding, no refusal) is not kept either.
    rename = parse(RENAME)
    bad = {"input": {"id": "x", "name": "a\x00b", "expectedVersion": 1}}
    for _ in "ab":
        verdict = inspect_operation(schema, rename, None, bad)
        assert verdict.refusal is None
        assert verdict.payload_errors
    assert walks["guard"] == 4


def test_the_same_variables_pass_again_and_python_equal_ones_are_walked(
    schema: GraphQLSchema, walks: dict[str, int]
) -> None:
    """``true``, ``1`` and ``1.0`` are equal to Python, not to JSON or to the checks."""
    document = parse(DASHBOARD)
    for first in (True, 1, 1.0, 1, True):
        check_limits(schema, document, "Dashboard", {"id": WS, "first": first}, API_LIMITS)
    assert walks["limits"] == 3


def _as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)  # float repr: 1.0, -0.0, 1e+16 kept apart


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=8,
)


@given(st.dictionaries(st.text(max_size=2), _json), st.dictionaries(st.text(max_size=2), _json))
def test_two_variables_share_a_key_exactly_when_they_are_the_same_json(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    key_a, key_b = variables_key(a), variables_key(b)
    if key_a is None or key_b is None:
        return  # too large to keep: checked every time
    assert (key_a == key_b) == (_as_json(a) == _as_json(b)), (a, b)
    assert variables_key(dict(reversed(list(a.items())))) == key_a  # order is not JSON's


def test_python_equal_values_get_different_keys_and_large_or_odd_ones_none() -> None:
    values = [1, 1.0, True, "1", [1], {"1": 1}, 0.0, -0.0, None, False, 0]
    keys = {variables_key({"v": v}) for v in values}
    assert len(keys) == len(values)
    assert variables_key({"a": 1, "b": 2}) == variables_key({"b": 2, "a": 1})
    assert variables_key({"v": list(range(MAX_VARIABLE_VALUES))}) is None
    assert variables_key({"v": (1, 2)}) is None  # not what JSON decodes to
    assert variables_key(None) == variables_key({}) == b""
    # Python's int hash repeats every 2**61 - 1: a digest of the text does not.
    period = 2**61 - 1
    assert hash(5) == hash(5 + period)
    assert variables_key({"v": 5}) != variables_key({"v": 5 + period})


def test_kept_operations_are_bounded_by_entries_and_by_text(schema: GraphQLSchema) -> None:
    passed = PassedChecks(max_entries=3, max_total_chars=10 * len(DASHBOARD))
    document = parse(DASHBOARD)
    keys = [passed.key(document, "Dashboard", {"id": str(n)}) for n in range(5)]
    for key in keys:
        passed.add(key)
    assert len(passed) == 3
    assert not passed.passed(keys[0])
    assert passed.passed(keys[4])
    small = PassedChecks(max_total_chars=2 * len(DASHBOARD))
    for key in keys:
        small.add(key)
    assert len(small) == 2
    assert passed.key(parse("{ __typename }", no_location=True), None, None) is None


def test_many_requests_with_long_variables_keep_the_memory_bounded(
    schema: GraphQLSchema, walks: dict[str, int]
) -> None:
    """A caller sending a thousand different requests, each with a long text and a
    4,000-digit number as variables (undeclared ones pass the checks), leaves only
    digests of them behind, and the document texts within the bound."""
    document = parse(DASHBOARD)
    for n in range(1000):
        sent = {"id": f"{n:04}" + "x" * 20_000, "z": int("9" * 4000)}
        assert check_limits(schema, document, "Dashboard", sent, API_LIMITS) == []
    kept = limits._PASSED
    assert len(kept) == 1000
    assert {len(key.variables) for key in kept._passed} == {16}
    assert kept._chars <= MAX_TOTAL_CHARS


def test_each_caller_has_memories_of_its_own(schema: GraphQLSchema, walks: dict[str, int]) -> None:
    """Whether a request is walked tells nothing of what another caller sent: the same
    request from a second credential (or from nobody) is walked again."""
    document = parse(DASHBOARD)
    sent = {"id": WS}
    callers = [caller_key("Bearer wp_a"), caller_key("Bearer wp_b"), None]
    for _ in range(2):
        for caller in callers:
            check_limits(schema, document, "Dashboard", sent, API_LIMITS, caller=caller)
            inspect_operation(schema, document, "Dashboard", sent, caller=caller)
    assert walks == {"limits": 3, "guard": 3}


async def test_over_http_each_credential_is_walked_once(
    settings: Settings,
    database: Database,
    tenant_a: Tenant,
    tenant_b: Tenant,
    walks: dict[str, int],
) -> None:
    """The extensions name the request's credential: two tenants sending the same
    request twice each are walked once each, by both checks."""
    query = "query Me($first: Int) { viewer { workspaces(first: $first) { totalCount } } }"
    async with ordinary_and_planned(settings, database) as clients:
        for _ in range(2):
            for tenant in (tenant_a, tenant_b):
                response = await clients[False].post(
                    "/graphql",
                    json={"query": query, "variables": {"first": 5}},
                    headers={"Authorization": f"Bearer {tenant.token}"},
                )
                assert "errors" not in response.json(), response.text
    assert walks == {"limits": 2, "guard": 2}
