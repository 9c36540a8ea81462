"""The GraphQL the README shows a newcomer is valid against the real schema, and within
the limits the API enforces (a first query refused as too costly is a poor welcome)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from backend.settings import Settings
from graphql_schema.limits import check_limits
from graphql_schema.schema import API_LIMITS, build_schema

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```graphql\n(.*?)```", README.read_text(), re.DOTALL)
# A README block holds several operations separated by comments.
DOCUMENTS = [
    operation.strip()
    for block in BLOCKS
    for operation in re.split(r"\n\s*\n(?=#)", block)
    if operation.strip()
]


def test_the_readme_shows_graphql() -> None:
    assert len(DOCUMENTS) >= 5


@pytest.mark.parametrize("document", DOCUMENTS)
def test_readme_graphql_is_valid(document: str) -> None:
    schema = build_schema(Settings(introspection=True))._schema
    concrete = parse(re.sub(r"<[^>]+>", "VGVzdDox", document))  # any placeholder id
    assert validate(schema, concrete) == []
    assert check_limits(schema, concrete, None, None, API_LIMITS) == []
