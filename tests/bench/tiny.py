"""The smallest world the bench's seeder builds, for tests of the bench itself."""

from __future__ import annotations

from bench.seed import Size

TINY = Size(
    workspaces=2,
    maps_per_workspace=2,
    stages_per_map=2,
    touchpoints_per_stage=3,
    pain_points_per_touchpoint=2,
    feedback=1_000,
)
