"""Keep the schema private from callers who do not authenticate, when introspection is off.

With introspection off the schema is meant to be private, yet the answer to a
document told an unknown field ("Cannot query field") from a known one
(UNAUTHENTICATED), and a document's estimated cost tells list fields from unknown
ones. So over HTTP the caller is authenticated before their document is validated:
one who sends no credential, or one that does not authenticate (unknown, revoked,
expired), gets UNAUTHENTICATED whatever the document, after parsing alone.

The limits still run first and cost no SQL; a document over a limit is then answered
QUERY_TOO_COMPLEX only to a caller who authenticates, which costs the credential's
lookup (none without a credential). A bearer token is checked as ``Authenticate``
checks it (``token_access``: a token seen before, with its grants, in one transaction;
for a query of lookups, the request's shared read transaction, which its reads then take
up) and the caller signed in; a session's subject is kept on the request's context, where
``Authenticate`` finds it. Either way one lookup per request. WebSocket operations are
left to ``Authenticate``, which checks each of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

from backend.db.shared_reads import Reads
from backend.settings import Settings
from graphql_schema.authentication import (
    KnownTokens,
    presented_token,
    reads_for_sign_in,
    refusal_for,
    subject_of,
    token_access,
)
from graphql_schema.context import Context


def schema_is_private(settings: Settings) -> bool:
    """Private exactly when introspection is off (production's default)."""
    return not settings.introspection_enabled


async def hidden_from(context: Context, known: KnownTokens, reads: Reads | None = None) -> bool:
    """Whether this HTTP request's caller does not authenticate (and may not see the schema).

    A caller found is kept for the rest of the request; a known token is checked on
    ``reads`` when given (``authentication.reads_for_sign_in``).
    """
    if context.request.scope["type"] != "http":
        return False
    if context.signed_in is not None or context.identified is not None:
        return False
    token = presented_token(context)
    if token is not None:
        access = await token_access(context.db, known, token, reads=reads)
        if access is None:
            return True
        context.sign_in(access)  # Authenticate finds the caller signed in
        return False
    subject = await subject_of(context)  # no SQL without a credential
    if subject is None:
        return True
    context.identify(subject)
    return False


class HideSchemaFromAnonymous(SchemaExtension):
    """Answer UNAUTHENTICATED before validation (and instead of a limit) to anonymous callers.

    List it after ``QueryLimitsExtension`` and before ``Authenticate``, as a factory
    sharing ``Authenticate``'s ``KnownTokens``.
    """

    def __init__(self, known: KnownTokens | None = None) -> None:
        super().__init__()
        self.known = known or KnownTokens()

    async def on_validate(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        assert isinstance(context, Context)
        reads = reads_for_sign_in(context, execution.graphql_document, execution.operation_name)
        if await hidden_from(context, self.known, reads):
            # Strawberry then skips validation and execution, and answers this alone.
            execution.pre_execution_errors = [await refusal_for(context)]
        yield
