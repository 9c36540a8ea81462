"""JSON documents read back exactly as stored, through the application's own engine."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from backend.db import engine
from backend.db.engine import Database, read_json
from backend.db.scoping import NO_TENANT
from backend.db.types import JSONDocument
from tests.fixtures.databases import TestDatabase

DOCUMENTS: list[Any] = [
    {"components": [["csat", 100.0, 0.10909090909090909, 1, None], ["nps", -0.5, 1e-300]]},
    {"big": 123456789012345678901234567890, "negative": -9223372036854775809},
    {"text": "Ünïcödé ✓ \u2028", "float": 0.1234567890123456789},
    [],
]


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_any_document_reads_as_the_standard_library_reads_it(document: Any) -> None:
    written = json.dumps(document)
    assert read_json(written) == json.loads(written)
    assert read_json(written.encode()) == json.loads(written)


def test_a_scores_fractions_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A score's components are floats with many digits (0.0016666666666666668: 19 in a
    row); only an integer that long needs the standard library."""
    slow: list[str] = []
    monkeypatch.setattr(engine.json, "loads", lambda text: slow.append(text))
    components = [["csat", 0.0016666666666666668, 1e-300, -2.5e-17, 12345678901234567.0]]
    assert read_json(json.dumps(components)) == components
    assert slow == []
    read_json('{"id": 12345678901234567890}')
    assert slow == ['{"id": 12345678901234567890}']


def test_big_integers_and_what_orjson_refuses_are_read_exactly() -> None:
    for document in DOCUMENTS:
        assert read_json(json.dumps(document)) == document
    assert read_json('{"n": 1e400}') == {"n": float("inf")}
    assert read_json(b'[1.5, "x"]') == [1.5, "x"]


async def test_documents_come_back_as_they_went_in(
    database: Database, test_database: TestDatabase
) -> None:
    made = "cast(:d as jsonb)" if test_database.is_postgres else "json(:d)"
    statement = text(f"select {made} as d").columns(d=JSONDocument)
    async with database.connection(NO_TENANT) as conn:
        for document in DOCUMENTS:
            read = (await conn.execute(statement, {"d": json.dumps(document)})).scalar_one()
            assert read == document
