"""Authenticate the caller once per operation, after the limits and validation passed.

Running here (not while building the context) means a refused document costs no
SQL at all, and GraphiQL's introspection works before a token is entered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import ExecutionResult, FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from backend.auth.service import authenticate_token, bearer_token
from backend.authz.access import load_access
from graphql_schema.context import Context
from graphql_schema.errors import Unauthenticated


class Authenticate(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        assert isinstance(context, Context)
        if context._access is None and not self._introspection_only():
            token = bearer_token(context.request.headers.get("authorization"))
            principal = await authenticate_token(context.db, token) if token else None
            if principal is None:
                self.execution_context.result = ExecutionResult(
                    data=None, errors=[Unauthenticated()]
                )
            else:
                context._access = await load_access(context.db, principal)
        yield

    def _introspection_only(self) -> bool:
        document = self.execution_context.graphql_document
        if document is None:
            return False
        name = self.execution_context.operation_name
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            if name is not None and (definition.name is None or definition.name.value != name):
                continue
            return all(
                isinstance(selection, FieldNode) and selection.name.value.startswith("__")
                for selection in definition.selection_set.selections
            )
        return False
