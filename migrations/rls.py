"""Postgres row-level security helpers shared by every migration.

Each workspace table gets ENABLE + FORCE row-level security and a policy keyed
on the per-transaction setting that backend.db.scoping binds. The application
runs as ``waypost_app``: no table owner, no superuser, no BYPASSRLS.
"""

from __future__ import annotations

from alembic import op

APP_ROLE = "waypost_app"
DML = "SELECT, INSERT, UPDATE, DELETE"


def is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_app_role_and_functions() -> None:
    op.execute(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
          END IF;
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    # A committed set_config(..., true) leaves '' behind, not NULL: both mean "none".
    op.execute(
        """
        CREATE FUNCTION waypost_bound_workspaces() RETURNS uuid[]
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
          SELECT coalesce(
            string_to_array(
              nullif(current_setting('waypost.workspace_ids', true), ''), ','
            )::uuid[],
            '{}'::uuid[])
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION waypost_bound_user() RETURNS uuid
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
          SELECT nullif(current_setting('waypost.user_id', true), '')::uuid
        $$
        """
    )


def drop_app_functions() -> None:
    op.execute("DROP FUNCTION IF EXISTS waypost_bound_workspaces()")
    op.execute("DROP FUNCTION IF EXISTS waypost_bound_user()")
    # The role is cluster-wide and may serve other databases: it stays.


def grant_to_app(table: str, privileges: str = DML) -> None:
    op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")


def enable_workspace_rls(table: str, *, own_rows_column: str | None = None) -> None:
    """Isolate ``table`` by workspace; optionally let a user read their own rows too.

    ``own_rows_column`` serves memberships: the caller's workspaces are computed
    from them, so they must be readable before any workspace is bound.
    """
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"""
        CREATE POLICY workspace_isolation ON {table}
          USING (workspace_id = ANY (waypost_bound_workspaces()))
          WITH CHECK (workspace_id = ANY (waypost_bound_workspaces()))
        """
    )
    if own_rows_column:
        op.execute(
            f"""
            CREATE POLICY own_rows ON {table} FOR SELECT
              USING ({own_rows_column} = waypost_bound_user())
            """
        )


def disable_workspace_rls(table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS own_rows ON {table}")
    op.execute(f"DROP POLICY IF EXISTS workspace_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
