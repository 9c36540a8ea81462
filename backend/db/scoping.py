"""Central tenant scoping: every ORM query on a workspace table is filtered here.

Two layers, deliberately redundant:
- In Python, ``do_orm_execute`` adds ``workspace_id IN (...)`` to every SELECT,
  UPDATE and DELETE on a WorkspaceScoped entity, including relationship loads and
  aliases, and ``before_flush`` refuses to write a row outside the binding.
- On Postgres, ``after_begin`` binds the same workspace ids to the transaction
  (``set_config(..., true)``) for the row-level security policies to read.
Nothing outside this module decides what a session may see; callers only say
which binding a session carries, and only authz produces bindings for callers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria

from backend.db import driver
from backend.db.base import WorkspaceScoped
from backend.db.driver import DriverStatement

INFO_KEY = "tenant_binding"
# Per-statement escape hatch, for two sanctioned reads only: the caller's own
# memberships before their workspaces are known (authz), and the outbox relay
# finding which workspaces have due events. Each such statement filters by
# itself; on Postgres RLS still applies (own-rows policy, SECURITY DEFINER lookup).
UNSCOPED_OPTION = "waypost_unscoped"

WORKSPACE_IDS_SETTING = "waypost.workspace_ids"
USER_ID_SETTING = "waypost.user_id"
ORGANIZATION_IDS_SETTING = "waypost.organization_ids"
ACCOUNT_ID_SETTING = "waypost.account_id"
SECRET_HASH_SETTING = "waypost.secret_hash"  # noqa: S105 - a setting name, not a secret


class TenantViolationError(RuntimeError):
    """A write tried to touch a workspace outside the session's binding."""


@dataclass(frozen=True)
class TenantBinding:
    """What a session may touch: workspaces, and on Postgres the organization-level rows.

    - ``workspace_ids``: workspace rows (and tokens, invitations into those workspaces);
    - ``user_id``: that user's memberships too, while their access is computed;
    - ``organization_ids``: organization-level rows (members, SSO connections,
      invitations, sessions) of organizations the caller sees;
    - ``account_id``: the signed-in user's own credentials (API tokens, sessions,
      identities);
    - ``secret_hash``: the one credential row (token, session, invitation, SSO
      login attempt or identity) named by the secret the caller presents, found
      before the tenant is known.

    The ORM filter (``app_scoping``) uses ``workspace_ids`` alone; the others are
    enforced by row-level security only.
    """

    workspace_ids: frozenset[UUID] = field(default_factory=frozenset)
    user_id: UUID | None = None
    app_scoping: bool = True
    organization_ids: frozenset[UUID] = field(default_factory=frozenset)
    account_id: UUID | None = None
    secret_hash: str | None = None

    def widened(self, workspace_id: UUID) -> TenantBinding:
        return replace(self, workspace_ids=self.workspace_ids | {workspace_id})

    def with_organization(self, organization_id: UUID) -> TenantBinding:
        return replace(self, organization_ids=self.organization_ids | {organization_id})


NO_TENANT = TenantBinding()


def binding_of(session: Session) -> TenantBinding:
    binding = session.info.get(INFO_KEY, NO_TENANT)
    assert isinstance(binding, TenantBinding)
    return binding


@asynccontextmanager
async def seeing_own_rows_of(session: AsyncSession, user_id: UUID) -> AsyncIterator[None]:
    """For the statements inside, the own-rows policy also shows ``user_id``'s rows.

    The one other sanctioned widening besides computing a caller's access: finding
    what someone still reaches after losing a role (their memberships in workspaces the
    caller does not see). Statements inside must filter by that user themselves.
    """
    before = binding_of(session.sync_session)
    await _rebind(session, replace(before, user_id=user_id))
    try:
        yield
    finally:
        await _rebind(session, before)


async def _rebind(session: AsyncSession, binding: TenantBinding) -> None:
    session.info[INFO_KEY] = binding
    if session.in_transaction():
        connection = await session.connection()
        await connection.run_sync(_bind_postgres_settings, binding)


async def widen(session: AsyncSession, workspace_id: UUID) -> None:
    """Let this session, and its open transaction, reach a workspace it just created."""
    await _rebind(session, binding_of(session.sync_session).widened(workspace_id))


async def widen_to_organization(session: AsyncSession, organization_id: UUID) -> None:
    """Let this session, and its open transaction, reach an organization's own rows:
    one it just created, or the one a sign-in (SSO, invitation) is for."""
    await _rebind(session, binding_of(session.sync_session).with_organization(organization_id))


async def widen_to_account(session: AsyncSession, user_id: UUID) -> None:
    """Let this session reach a user's own credentials: the system issuing one for them."""
    await _rebind(session, replace(binding_of(session.sync_session), account_id=user_id))


@event.listens_for(Session, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
    if state.is_column_load or not (state.is_select or state.is_update or state.is_delete):
        return
    binding = binding_of(state.session)
    if not binding.app_scoping or state.execution_options.get(UNSCOPED_OPTION):
        return
    ids = tuple(binding.workspace_ids)
    state.statement = state.statement.options(
        with_loader_criteria(
            WorkspaceScoped,
            lambda cls: cls.workspace_id.in_(ids),
            include_aliases=True,
            propagate_to_loaders=True,
        )
    )


def require_bound(session: AsyncSession, workspace_id: UUID, what: str) -> None:
    """What ``before_flush`` checks for ORM writes, for a Core write into one workspace."""
    binding = binding_of(session.sync_session)
    if binding.app_scoping and workspace_id not in binding.workspace_ids:
        raise TenantViolationError(f"{what} in workspace {workspace_id} is outside this session")


@event.listens_for(Session, "before_flush")
def _refuse_foreign_writes(session: Session, _context: Any, _instances: Any) -> None:
    binding = binding_of(session)
    if not binding.app_scoping:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, WorkspaceScoped) and obj.workspace_id not in binding.workspace_ids:
            raise TenantViolationError(
                f"{type(obj).__name__} in workspace {obj.workspace_id} is outside this session"
            )


@event.listens_for(Session, "after_begin")
def _bind_transaction(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    _bind_postgres_settings(connection, binding_of(session))


_BIND = text(
    "select set_config(:ws_key, :ws, true), set_config(:user_key, :user, true),"
    " set_config(:org_key, :orgs, true), set_config(:account_key, :account, true),"
    " set_config(:secret_key, :secret, true)"
)


def _bind_parameters(binding: TenantBinding) -> dict[str, str]:
    return {
        "ws_key": WORKSPACE_IDS_SETTING,
        "ws": ",".join(sorted(str(i) for i in binding.workspace_ids)),
        "user_key": USER_ID_SETTING,
        "user": str(binding.user_id) if binding.user_id else "",
        "org_key": ORGANIZATION_IDS_SETTING,
        "orgs": ",".join(sorted(str(i) for i in binding.organization_ids)),
        "account_key": ACCOUNT_ID_SETTING,
        "account": str(binding.account_id) if binding.account_id else "",
        "secret_key": SECRET_HASH_SETTING,
        "secret": binding.secret_hash or "",
    }


# On a connection's info: the settings its open transaction was bound with, and that
# transaction, so a session joining it (``SharedReads``) does not bind it again.
_BOUND_KEY = "waypost_bound_transaction"


def _bind_postgres_settings(connection: Connection, binding: TenantBinding) -> None:
    if connection.dialect.name != "postgresql":
        return
    parameters = _bind_parameters(binding)
    transaction = connection.get_transaction()
    # The recorded transaction is held, so a later one is never mistaken for it.
    if transaction is not None and connection.info.get(_BOUND_KEY) == (parameters, transaction):
        return
    # is_local=true: the values die with the transaction, so a pooled connection
    # never carries one caller's workspaces into the next caller's transaction.
    connection.execute(_BIND, parameters)
    connection.info[_BOUND_KEY] = (parameters, transaction)


_BIND_BY_DRIVER = DriverStatement(_BIND, *_bind_parameters(TenantBinding()))


async def bind_connection(connection: AsyncConnection, binding: TenantBinding) -> None:
    """Bind a Core connection's open transaction, as ``after_begin`` does for sessions.

    Core statements skip the ORM's tenant criteria: on a connection bound here, every
    statement must filter by workspace (or user) itself; on Postgres RLS still applies.
    Binding again a transaction that has begun (a request's reads after its sign-in)
    goes through asyncpg (``backend.db.driver``); the first binding sends BEGIN.
    """
    sync = connection.sync_connection
    bound = sync.info.get(_BOUND_KEY) if sync is not None else None
    if bound is None or connection.dialect.name != "postgresql":
        await connection.run_sync(_bind_postgres_settings, binding)
        return
    parameters = _bind_parameters(binding)
    transaction = sync.get_transaction()  # type: ignore[union-attr]
    if bound == (parameters, transaction):
        return
    if bound[1] is not transaction:  # another transaction's: this one is unbound
        await connection.run_sync(_bind_postgres_settings, binding)
        return
    await driver.rows(connection, _BIND_BY_DRIVER, **parameters)
    sync.info[_BOUND_KEY] = (parameters, transaction)  # type: ignore[union-attr]
