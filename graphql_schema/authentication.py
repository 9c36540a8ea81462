"""Authenticate the caller once per operation, after the limits and validation passed.

Running here (not while building the context) means a refused document costs no
SQL at all, and GraphiQL's introspection works before a token is entered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import ExecutionResult, FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from backend.auth.principal import Principal
from backend.auth.service import authenticate_token, bearer_token
from backend.auth.sessions import CSRF_HEADER, SESSION_COOKIE, authenticate_session, csrf_matches
from backend.authz.access import Access, load_access
from graphql_schema.context import Context
from graphql_schema.errors import CsrfTokenMissing, Unauthenticated


async def principal_of(context: Context) -> Principal | None:
    """A bearer token if one is sent (even a bad one: no falling back), else the cookie."""
    headers = context.request.headers
    if headers.get("authorization"):
        token = bearer_token(headers.get("authorization"))
        return await authenticate_token(context.db, token) if token else None
    secret = context.request.cookies.get(SESSION_COOKIE)
    return await authenticate_session(context.db, context.settings, secret) if secret else None


async def access_for(context: Context) -> Access | None:
    """The caller's access for a query, found once per request; None if not signed in.

    For callers that must know who is asking before the operation runs (a cached
    map read); the extension below then finds the access already there.
    """
    if context._access is None:
        principal = await principal_of(context)
        if principal is None:
            return None
        context._access = await load_access(context.db, principal)
    return context._access


class Authenticate(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        assert isinstance(context, Context)
        if context._access is None and not self._introspection_only():
            principal = await principal_of(context)
            if principal is None:
                self._refuse(Unauthenticated())
            elif self._is_mutation() and not csrf_matches(
                principal, context.request.headers.get(CSRF_HEADER)
            ):
                self._refuse(CsrfTokenMissing())
            else:
                context._access = await load_access(context.db, principal)
        yield

    def _refuse(self, error: Unauthenticated) -> None:
        self.execution_context.result = ExecutionResult(data=None, errors=[error])

    def _is_mutation(self) -> bool:
        operation = self.execution_context.operation_type
        return operation is OperationType.MUTATION

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
