"""Alembic migrations for the whole schema (SQLite and PostgreSQL)."""
