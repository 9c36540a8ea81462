"""Authenticate the caller once per operation, after the limits and validation passed.

Running here (not while building the context) means a refused document costs no
SQL at all, and GraphiQL's introspection works before a token is entered.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    get_operation_ast,
)
from graphql import OperationType as OperationKind
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from backend.auth.service import (
    LiveToken,
    authenticate_token,
    bearer_token,
    live_token,
    note_use,
    token_refusal,
)
from backend.auth.sessions import authenticate_session, csrf_matches, session_refusal
from backend.auth.subject import Subject
from backend.auth.tokens import hash_secret, looks_like_token
from backend.authz.access import (
    Access,
    access_from_rows,
    access_rows,
    load_access,
    token_and_grants,
)
from backend.db.engine import Database
from backend.db.scoping import TenantBinding
from backend.db.shared_reads import Reads
from backend.db.types import utcnow
from graphql_schema.context import Context
from graphql_schema.errors import CsrfTokenMissing, Unauthenticated, refused
from graphql_schema.json_fields import LOOKUPS


async def subject_of(context: Context) -> Subject | None:
    """A bearer token if one is sent (even a bad one: no falling back), else the cookie."""
    if context.identified is not None:  # already checked for this HTTP request
        return context.identified
    sent = context.presented()
    if sent.authorization is not None:
        token = bearer_token(sent.authorization)
        return await authenticate_token(context.db, token) if token else None
    secret = sent.session_secret
    return await authenticate_session(context.db, context.settings, secret) if secret else None


async def refusal_for(context: Context) -> Unauthenticated:
    """The error that tells a caller who is not signed in why (read on that path only)."""
    sent = context.presented()
    if sent.authorization is not None:
        token = bearer_token(sent.authorization)
        if token is None:  # another scheme (Basic...): no bearer token was sent at all
            return Unauthenticated()
        return refused("token", await token_refusal(context.db, token))
    if sent.session_secret is not None:
        return refused(
            "session", await session_refusal(context.db, context.settings, sent.session_secret)
        )
    return Unauthenticated()


async def access_for(context: Context) -> Access | None:
    """The caller's access for a query, found once per request; None if not signed in.

    For callers that must know who is asking before the operation runs (a cached
    map read); the extension below then finds the access already there.
    """
    if context.signed_in is None:
        subject = await subject_of(context)
        if subject is None:
            return None
        context.sign_in(await load_access(context.db, subject))
    return context.signed_in


T = TypeVar("T")


@dataclass(frozen=True)
class _Known:
    access: Access
    grants: list[tuple[Any, ...]] | None  # the rows it was built from, if read here


class KnownTokens:
    """Who each recently seen bearer token belongs to, and what they last reached.

    A token's owner never changes, so knowing it lets one transaction bind the
    owner, check the token, read their grants and run the request's own read.
    Everything is read afresh each time; only when the grants read are the same
    rows as last time is the Access built from them last time used again.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._known: OrderedDict[str, _Known] = OrderedDict()

    def get(self, token: str) -> _Known | None:
        key = hash_secret(token)
        found = self._known.get(key)
        if found is not None:
            self._known.move_to_end(key)
        return found

    def remember(self, token: str, access: Access, grants: list[tuple[Any, ...]] | None) -> None:
        key = hash_secret(token)
        self._known[key] = _Known(access, grants)
        self._known.move_to_end(key)
        while len(self._known) > self.max_entries:
            self._known.popitem(last=False)

    def forget(self, token: str) -> None:
        self._known.pop(hash_secret(token), None)


async def _recheck(
    connection: AsyncConnection, known: KnownTokens, token: str, seen: _Known, now: datetime
) -> tuple[LiveToken, Access, list[tuple[Any, ...]]] | None:
    """A known token checked again on ``connection`` (bound to its owner): None when it
    is no longer live or no longer theirs (and it is forgotten); else the live token, the
    access (last time's when the grants are the same rows) and the grants read. The
    token and the grants are one statement."""
    user_id = seen.access.user_id
    row, grants = await token_and_grants(connection, hash_secret(token), user_id)
    live = None if row is None else live_token(row, now)
    if live is None or live.subject.user_id != user_id:
        known.forget(token)
        return None
    if grants == seen.grants and live.subject == seen.access.subject:
        return live, seen.access, grants
    return live, access_from_rows(live.subject, grants), grants


async def read_as_caller(
    context: Context,
    known: KnownTokens,
    read: Callable[[AsyncConnection, Access], Awaitable[T]],
    *,
    within: UUID | None = None,
) -> T | None:
    """Sign the caller in and run ``read`` with their access; None if not signed in.

    For a bearer token seen before, all of it is one transaction, bound to the
    owner and to ``within`` (the one workspace ``read`` needs, when known) or else
    to what they reached last time. ``read`` runs on a Core connection whose binding
    also names the user, so it must filter by the access's workspaces itself. The
    access is kept on the context.
    """
    authorization = context.request.headers.get("authorization")
    token = bearer_token(authorization) if authorization else None
    seen = known.get(token) if token is not None and context.signed_in is None else None
    if token is None or seen is None:
        access = await access_for(context)
        if access is None:
            return None
        async with context.db.connection(access.binding()) as connection:
            result = await read(connection, access)
        if token is not None and access.token_id is not None:
            known.remember(token, access, None)
        return result

    now = utcnow()
    user_id = seen.access.user_id
    workspaces = frozenset({within}) if within else frozenset(seen.access.workspace_roles)
    async with context.db.connection(TenantBinding(workspaces, user_id)) as connection:
        rechecked = await _recheck(connection, known, token, seen, now)
        if rechecked is None:
            return None
        live, access, grants = rechecked
        result = await read(connection, access)
    await note_use(context.db, live, now)
    context.sign_in(access)
    known.remember(token, access, grants)
    return result


def reads_for_sign_in(
    context: Context, document: DocumentNode | None, operation_name: str | None
) -> Reads | None:
    """The request's shared reads, for a known token's check to run in, when the
    operation's first read is on them: over HTTP, a query whose root fields are all
    lookups Postgres writes whole (``json_fields.LOOKUPS``). Anything else checks on a
    transaction of its own, ended at once: a resolver reading on a transaction of its
    own would otherwise hold a second connection beside it."""
    if context.is_socket or document is None:
        return None
    try:
        operation = get_operation_ast(document, operation_name)
    except GraphQLError:
        return None
    if operation is None or operation.operation is not OperationKind.QUERY:
        return None
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            return None
        if selection.name.value not in LOOKUPS and selection.name.value != "__typename":
            return None
    return context.reads


def presented_token(context: Context) -> str | None:
    """The bearer token the request sends, if it has a token's shape."""
    authorization = context.presented().authorization
    token = bearer_token(authorization) if authorization is not None else None
    return token if token is not None and looks_like_token(token) else None


async def token_access(
    db: Database, known: KnownTokens, token: str, *, reads: Reads | None = None
) -> Access | None:
    """The access of a bearer token's owner; None for a bad, revoked or expired token.

    The token is checked and the grants read afresh every time. For a token seen
    before, both are one transaction (the owner is known, so it is bound with the
    token's hash), and the Access built last time is used again when the grants read
    are the same rows. With ``reads`` (a request's shared reads), that transaction is
    the one the request's reads then run in, bound again as they ask.
    """
    seen = known.get(token)
    if seen is None:
        subject = await authenticate_token(db, token)
        if subject is None:
            return None
        async with db.connection(TenantBinding(user_id=subject.user_id)) as connection:
            grants = await access_rows(connection, subject.user_id)
        access = access_from_rows(subject, grants)
        known.remember(token, access, grants)
        return access
    now = utcnow()
    binding = TenantBinding(user_id=seen.access.user_id, secret_hash=hash_secret(token))
    async with (reads or db).connection(binding) as connection:
        rechecked = await _recheck(connection, known, token, seen, now)
    if rechecked is None:
        return None
    live, access, grants = rechecked
    await note_use(db, live, now)
    known.remember(token, access, grants)
    return access


class Authenticate(SchemaExtension):
    """Sign the caller in for the operation. Pass it as a factory sharing one
    ``KnownTokens`` per schema: ``lambda: Authenticate(known)``."""

    def __init__(self, known: KnownTokens | None = None) -> None:
        super().__init__()
        self.known = known or KnownTokens()

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        assert isinstance(context, Context)
        # Over HTTP a cached map read may already have signed the caller in for this
        # request. A socket's operations are checked one by one, never carried over.
        earlier = None if context.is_socket else context.signed_in
        if earlier is not None and self._is_mutation():
            # Whoever signed the caller in earlier in this request, a mutation proves the
            # session's CSRF token itself.
            if not csrf_matches(earlier.subject, context.presented().csrf_token):
                self._refuse(CsrfTokenMissing())
        elif earlier is None and not self._introspection_only():
            access = await self._access(context)
            if access is None:
                self._refuse(await refusal_for(context))
            elif self._is_mutation() and not csrf_matches(
                access.subject, context.presented().csrf_token
            ):
                self._refuse(CsrfTokenMissing())
            else:
                context.sign_in(access)
        yield

    async def _access(self, context: Context) -> Access | None:
        if context.identified is None:  # not looked up before validation
            token = presented_token(context)
            if token is not None:
                execution = self.execution_context
                reads = reads_for_sign_in(
                    context, execution.graphql_document, execution.operation_name
                )
                return await token_access(context.db, self.known, token, reads=reads)
        subject = await subject_of(context)
        return None if subject is None else await load_access(context.db, subject)

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
