"""Metrics (KPIs): what a team measures on a touchpoint, stage or map, over time."""
