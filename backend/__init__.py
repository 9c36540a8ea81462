"""Waypost: multi-tenant customer journey management backend."""
