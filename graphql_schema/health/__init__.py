"""Health scores in the graph: on touchpoints, stages, maps, workspaces and organizations."""
