"""Metrics (KPIs) in the graph."""
