"""The GraphQL the README shows a newcomer is valid against the real schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from backend.settings import Settings
from graphql_schema.schema import build_schema

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
    concrete = re.sub(r"<[^>]+>", "VGVzdDox", document)  # any placeholder id
    assert validate(schema, parse(concrete)) == []
