"""The typed per-operation context: database, caller's access, fresh DataLoaders.

An HTTP request gets one; a WebSocket gets one per operation (``for_operation``), so
nothing learned about the caller outlives the operation that learned it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from graphql import DocumentNode, OperationDefinitionNode
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import Info as StrawberryInfo

from backend.audit.actor import Actor
from backend.auth.oidc import OidcClient
from backend.auth.subject import Subject
from backend.authz.access import Access
from backend.db.engine import Database
from backend.db.shared_reads import SharedReads
from backend.models.audit import ActorType
from backend.settings import Settings
from graphql_schema.credentials import Presented, presented
from graphql_schema.dataloaders import Loaders
from graphql_schema.errors import Unauthenticated
from graphql_schema.passed_checks import caller_key

if TYPE_CHECKING:
    from graphql_schema.input_findings import Finding
    from graphql_schema.subscriptions.feed import LiveFeed


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | None
    db: Database
    settings: Settings
    oidc: OidcClient
    request_id: str
    # The process's live events, which subscriptions listen to (None where none run).
    live: LiveFeed | None = field(default=None, repr=False)
    # A WebSocket's connection_init payload (set by strawberry); None over HTTP.
    connection_params: dict[str, object] | None = field(default=None, repr=False)
    # Set through ``sign_in`` by the authentication extension once the document passed
    # the limits.
    _access: Access | None = None
    # Who an HTTP request's credential names, when found before validation
    # (``graphql_schema.private_schema``): ``Authenticate`` takes it from here.
    _subject: Subject | None = None
    _loaders: Loaders | None = field(default=None, repr=False)
    # The operation's batched reads share one transaction (ended by ``EndSharedReads``).
    _reads: SharedReads | None = field(default=None, repr=False)
    # Set by the input guard: what each mutation (by its field node) answers instead of
    # running, its arguments being bad.
    input_problems: dict[int, tuple[Finding, ...]] = field(default_factory=dict, repr=False)
    # Set by the planned engine when Postgres wrote the operation's data whole: its
    # document and operation (``written_queries`` answers them again directly).
    written: tuple[DocumentNode, OperationDefinitionNode] | None = field(default=None, repr=False)

    @property
    def is_socket(self) -> bool:
        return isinstance(self.request, WebSocket)

    def for_operation(self) -> Context:
        """A copy for one operation on a socket: same connection, nothing known yet."""
        return replace(self, _access=None, _loaders=None, _reads=None, written=None)

    def presented(self) -> Presented:
        """The credential, session cookie and CSRF token this caller presents."""
        return presented(self.request, self.connection_params, self.settings)

    def checks_partition(self) -> bytes | None:
        """Whose memories of passed checks this request uses (``passed_checks``): its
        credential's, as presented, checked or not (a bad one finds only its own)."""
        sent = self.presented()
        if sent.authorization is not None:
            return caller_key(sent.authorization)
        if sent.session_secret is not None:
            return caller_key("session:" + sent.session_secret)
        return None

    @property
    def access(self) -> Access:
        if self._access is None:
            raise Unauthenticated()
        return self._access

    @property
    def signed_in(self) -> Access | None:
        """The caller's access if they were signed in for this operation; else None."""
        return self._access

    def sign_in(self, access: Access) -> None:
        """Record the caller's access, once their credential and CSRF token checked out."""
        self._access = access

    @property
    def identified(self) -> Subject | None:
        """Who this HTTP request's credential names, if found before validation."""
        return self._subject

    def identify(self, subject: Subject) -> None:
        """Keep who the credential names, so the request looks it up only once."""
        self._subject = subject

    @property
    def actor(self) -> Actor:
        """Who the audit trail will name for this request's changes."""
        access = self.access
        client = self.request.client
        return Actor(
            type=ActorType.API_TOKEN if access.token_id else ActorType.USER,
            user_id=access.user_id,
            token_id=access.token_id,
            request_id=self.request_id,
            ip=client.host if client else None,
            user_agent=self.request.headers.get("user-agent"),
        )

    def update_access(self, access: Access) -> None:
        """Take in what a mutation changed about the caller's reach (a new workspace)."""
        self._access = access
        self._loaders = None

    async def renew(self, access: Access) -> None:
        """Between a subscription's messages: the next one reads everything afresh, with
        ``access`` (the caller's, read again)."""
        await self.end_reads()
        self._reads = None
        self._loaders = None
        self._access = access

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.reads, self.access)
        return self._loaders

    @property
    def reads(self) -> SharedReads:
        """Where the operation's DataLoaders run their batches: one read transaction."""
        if self._reads is None:
            self._reads = SharedReads(self.db)
        return self._reads

    async def end_reads(self) -> None:
        """End the shared read transaction: the operation is done, or about to write."""
        if self._reads is not None:
            await self._reads.close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A short read transaction bound to the caller's workspaces."""
        async with self.db.transaction(self.access.binding()) as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One mutation's transaction: committed if it returns, rolled back if it raises.

        Reads after it must see what it wrote: not what the loaders cached for an
        earlier mutation's payload, nor an earlier read transaction's snapshot (SQLite
        keeps one for the whole transaction). Both are dropped before it starts.
        """
        await self.end_reads()
        self._loaders = None
        async with self.db.transaction(self.access.binding(), write=True) as session:
            yield session


Info = StrawberryInfo[Context, None]


class EndSharedReads(SchemaExtension):
    """Ends the operation's shared read transaction once it has executed, so its
    connection goes back to the pool before the response is written."""

    async def on_execute(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            context = self.execution_context.context
            if isinstance(context, Context):
                await context.end_reads()
