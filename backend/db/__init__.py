"""Persistence plumbing: declarative base, engine and sessions, tenant scoping."""
