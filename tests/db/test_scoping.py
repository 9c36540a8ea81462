"""Application-level tenant scoping: one central filter covers every ORM path."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from backend.db.engine import Database
from backend.db.scoping import UNSCOPED_OPTION, TenantBinding, TenantViolationError
from backend.models import User, WorkspaceMembership
from backend.vocabulary.roles import WorkspaceRole
from tests.fixtures.tenants import Tenant, add_guest


@pytest.fixture
async def members(database: Database, tenant_a: Tenant, tenant_b: Tenant) -> dict[str, object]:
    """One person who is a member of a workspace in each tenant."""
    a_ws, b_ws = tenant_a.workspace_ids[0], tenant_b.workspace_ids[0]
    user_id, _ = await add_guest(database, a_ws, "both@example.com", WorkspaceRole.EDITOR)
    await add_guest(database, b_ws, "both@example.com", WorkspaceRole.VIEWER)
    return {"user_id": user_id, "a": a_ws, "b": b_ws}


def only(*workspace_ids: object) -> TenantBinding:
    return TenantBinding(frozenset(workspace_ids))  # type: ignore[arg-type]


async def test_select_sees_only_bound_workspaces(database: Database, members: dict) -> None:
    async with database.transaction(only(members["a"])) as session:
        rows = (await session.scalars(select(WorkspaceMembership))).all()
    assert {r.workspace_id for r in rows} == {members["a"]}


async def test_no_binding_sees_no_workspace_rows(database: Database, members: dict) -> None:
    async with database.transaction(TenantBinding()) as session:
        assert (await session.scalars(select(WorkspaceMembership))).all() == []


async def test_relationship_loads_are_scoped_too(database: Database, members: dict) -> None:
    async with database.transaction(only(members["a"])) as session:
        user = await session.scalar(
            select(User)
            .where(User.id == members["user_id"])
            .options(selectinload(User.workspace_memberships))
        )
        assert user is not None
        assert {m.workspace_id for m in user.workspace_memberships} == {members["a"]}


async def test_bulk_update_and_delete_cannot_reach_other_workspaces(
    database: Database, members: dict
) -> None:
    async with database.transaction(only(members["a"]), write=True) as session:
        await session.execute(update(WorkspaceMembership).values(role=WorkspaceRole.ADMIN))
        await session.execute(delete(WorkspaceMembership))
    async with database.transaction(only(members["b"])) as session:
        survivor = (await session.scalars(select(WorkspaceMembership))).one()
    assert survivor.role is WorkspaceRole.VIEWER


async def test_writing_a_row_into_an_unbound_workspace_is_refused(
    database: Database, members: dict
) -> None:
    intruder = WorkspaceMembership(
        workspace_id=members["b"], user_id=members["user_id"], role=WorkspaceRole.ADMIN
    )
    async with database.transaction(only(members["a"]), write=True) as session:
        session.add(intruder)
        with pytest.raises(TenantViolationError):
            await session.flush()
        await session.rollback()


async def test_own_rows_option_reads_only_the_statement_filter(
    database: Database, members: dict
) -> None:
    # The one sanctioned bypass: authz reads a caller's own memberships before it
    # knows their workspaces. It must still filter by user itself.
    binding = TenantBinding(user_id=members["user_id"])  # type: ignore[arg-type]
    async with database.transaction(binding) as session:
        rows = (
            await session.scalars(
                select(WorkspaceMembership)
                .where(WorkspaceMembership.user_id == members["user_id"])
                .execution_options(**{UNSCOPED_OPTION: True})
            )
        ).all()
    assert {r.workspace_id for r in rows} == {members["a"], members["b"]}
