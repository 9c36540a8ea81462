"""The committed SDL is what clients and reviewers read: it must match the code."""

from __future__ import annotations

from backend.entrypoints.cli import SCHEMA_FILE
from graphql_schema.schema import schema_sdl


def test_committed_schema_graphql_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text() == schema_sdl(), (
        "graphql_schema/schema.graphql is out of date: run `make schema`"
    )


def test_schema_names_the_contract_operations() -> None:
    sdl = schema_sdl()
    for name in (
        "viewer:",
        "node(id: ID!)",
        "organization(slug: String!)",
        "workspace(id: ID!)",
        "createWorkspace(",
        "addWorkspaceMember(",
        "createApiToken(",
        "revokeApiToken(",
        "viewerRole",
        "totalCount",
    ):
        assert name in sdl, name
