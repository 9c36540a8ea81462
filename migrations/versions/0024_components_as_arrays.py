"""A score's components are stored as arrays of their fields, not as keyed objects.

A component ``{"name": "csat", "value": 71.2, "weight": 0.4, "sample_size": 12,
"prior_share": 0.0, "low": 60.1, "high": 80.3, "headline": 71.2}`` becomes
``["csat", 71.2, 0.4, 12, 0.0, 60.1, 80.3, 71.2]``, its fields in the order of
``backend.health.model.Component``. A full pass stores some 12,000 components a
workspace, and the keys were most of the bytes it sent and Postgres parsed. Stored
components are converted here (numbers exactly as they were); every pass rewrites them
anyway.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-13 10:00:00
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from migrations import rls

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIELDS = ("name", "value", "weight", "sample_size", "prior_share", "low", "high", "headline")


def upgrade() -> None:
    if not rls.is_postgres():
        _rewrite_on_sqlite(lambda c: [c.get(f) for f in FIELDS] if isinstance(c, dict) else c)
        return
    picked = ", ".join(f"c -> '{f}'" for f in FIELDS)
    _rewrite_on_postgres(
        f"""
        SELECT coalesce(jsonb_agg(jsonb_build_array({picked}) ORDER BY at), '[]'::jsonb)
        FROM jsonb_array_elements(components) WITH ORDINALITY AS e(c, at)
        WHERE jsonb_typeof(c) = 'object'""",
        "object",
    )


def downgrade() -> None:
    if not rls.is_postgres():
        _rewrite_on_sqlite(
            lambda c: dict(zip(FIELDS, c, strict=True)) if isinstance(c, list) else c
        )
        return
    picked = ", ".join(f"'{f}', c -> {n}" for n, f in enumerate(FIELDS))
    _rewrite_on_postgres(
        f"""
        SELECT coalesce(jsonb_agg(jsonb_build_object({picked}) ORDER BY at), '[]'::jsonb)
        FROM jsonb_array_elements(components) WITH ORDINALITY AS e(c, at)
        WHERE jsonb_typeof(c) = 'array'""",
        "array",
    )


def _rewrite_on_postgres(converted: str, old_kind: str) -> None:
    """Every score whose components are still of ``old_kind``, every workspace's, in
    the database (jsonb keeps each number's text, so nothing is rounded)."""
    with rls.across_workspaces("health_scores"):
        op.execute(
            f"UPDATE health_scores SET components = ({converted})"
            f" WHERE jsonb_typeof(components -> 0) = '{old_kind}'"
        )


def _rewrite_on_sqlite(convert: Callable[[Any], Any]) -> None:
    """In Python: SQLite's JSON functions write a number back with 15 significant digits,
    so converting there would round every component. An embedded database is small."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT workspace_id, id, components FROM health_scores")).all()
    for workspace_id, subject_id, components in rows:
        found = json.loads(components)
        converted = [convert(c) for c in found]
        if converted != found:
            bind.execute(
                sa.text(
                    "UPDATE health_scores SET components = :components"
                    " WHERE workspace_id = :workspace_id AND id = :id"
                ),
                {
                    "components": json.dumps(converted),
                    "workspace_id": workspace_id,
                    "id": subject_id,
                },
            )
