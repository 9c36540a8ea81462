"""A score's components are stored as arrays of their fields, not as keyed objects.

A component ``{"name": "csat", "value": 71.2, "weight": 0.4, "sample_size": 12,
"prior_share": 0.0, "low": 60.1, "high": 80.3, "headline": 71.2}`` becomes
``["csat", 71.2, 0.4, 12, 0.0, 60.1, 80.3, 71.2]``, its fields in the order of
``backend.health.model.Component``. A full pass stores some 12,000 components a
workspace, and the keys were most of the bytes it sent and Postgres parsed. Stored
components are converted here; every pass rewrites them anyway.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-13 10:00:00
"""

from collections.abc import Sequence

from alembic import op

from migrations import rls

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIELDS = ("name", "value", "weight", "sample_size", "prior_share", "low", "high", "headline")


def upgrade() -> None:
    if rls.is_postgres():
        picked = ", ".join(f"c -> '{f}'" for f in FIELDS)
        converted = f"""
            SELECT coalesce(jsonb_agg(jsonb_build_array({picked}) ORDER BY at), '[]'::jsonb)
            FROM jsonb_array_elements(components) WITH ORDINALITY AS e(c, at)
            WHERE jsonb_typeof(c) = 'object'"""
    else:
        picked = ", ".join(f"json_extract(e.value, '$.{f}')" for f in FIELDS)
        converted = f"""
            SELECT coalesce(json_group_array(json_array({picked})), '[]')
            FROM (SELECT value FROM json_each(health_scores.components) ORDER BY key) AS e"""
    _rewrite(converted, "object")


def downgrade() -> None:
    if rls.is_postgres():
        picked = ", ".join(f"'{f}', c -> {n}" for n, f in enumerate(FIELDS))
        converted = f"""
            SELECT coalesce(jsonb_agg(jsonb_build_object({picked}) ORDER BY at), '[]'::jsonb)
            FROM jsonb_array_elements(components) WITH ORDINALITY AS e(c, at)
            WHERE jsonb_typeof(c) = 'array'"""
    else:
        picked = ", ".join(f"'{f}', json_extract(e.value, '$[{n}]')" for n, f in enumerate(FIELDS))
        converted = f"""
            SELECT coalesce(json_group_array(json_object({picked})), '[]')
            FROM (SELECT value FROM json_each(health_scores.components) ORDER BY key) AS e"""
    _rewrite(converted, "array")


def _rewrite(converted: str, old_kind: str) -> None:
    """Every score whose components are still of ``old_kind``, every workspace's."""
    if rls.is_postgres():
        still_old = f"jsonb_typeof(components -> 0) = '{old_kind}'"
    else:
        still_old = f"json_type(components, '$[0]') = '{old_kind}'"
    with rls.across_workspaces("health_scores"):
        op.execute(f"UPDATE health_scores SET components = ({converted}) WHERE {still_old}")
