"""Metrics (KPIs, SPEC §4): what a team measures on a touchpoint, stage or map, over time."""
