"""Journey mapping: personas, maps, stages, touchpoints, pain points, revisions."""
