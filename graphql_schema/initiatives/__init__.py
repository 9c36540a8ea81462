"""Initiatives in the graph."""
