"""Plain rows for the hottest reads (backend/db/lookup.py ScopedRows) see only the
binding's workspaces, as the ORM's criteria do; on SQLite nothing else filters them."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backend.db.base import WorkspaceScoped
from backend.db.engine import Database
from backend.db.lookup import ScopedRows
from backend.db.scoping import TenantBinding
from backend.models import Stage, Touchpoint
from tests.fixtures.tenants import Tenant
from tests.health.worlds import build_world


async def test_rows_of_other_workspaces_are_never_read(
    database: Database, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    mine = await build_world(database, tenant_a.workspace_ids[0], stages=2)
    theirs = await build_world(database, tenant_b.workspace_ids[0], stages=2)
    binding = tenant_a.binding()
    async with database.connection(binding) as connection:
        rows = ScopedRows(connection, binding)
        # No condition of the caller's own: the binding alone decides.
        touchpoints = await rows.select(Touchpoint, order_by=(Touchpoint.position,))
        asked_for_theirs = await rows.select(Stage, Stage.journey_map_id == theirs.map_id)
    assert {t.id for t in touchpoints} == set(mine.touchpoint_ids)
    assert {t.workspace_id for t in touchpoints} == {tenant_a.workspace_ids[0]}
    assert asked_for_theirs == []
    # The attributes a reader uses, named as on the model.
    assert {t.journey_map_id for t in touchpoints} == {mine.map_id}
    assert all(isinstance(t.moment_of_truth, bool) for t in touchpoints)


async def test_a_binding_without_workspaces_reads_nothing(
    database: Database, tenant_a: Tenant
) -> None:
    await build_world(database, tenant_a.workspace_ids[0], stages=1)
    binding = TenantBinding(user_id=tenant_a.owner_id)
    async with database.connection(binding) as connection:
        assert await ScopedRows(connection, binding).select(Touchpoint) == []


class _Elsewhere(DeclarativeBase):
    """Not the application's metadata: the migrations' comparison never sees this table."""


class _Counted(WorkspaceScoped, _Elsewhere):
    """A table whose column a row's own method would hide."""

    __tablename__ = "scoped_rows_counted"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[str] = mapped_column(String(10))


async def test_a_column_named_like_a_rows_method_is_refused(database: Database) -> None:
    async with database.connection(TenantBinding()) as connection:
        with pytest.raises(TypeError, match="count"):
            await ScopedRows(connection, TenantBinding()).select(_Counted)
