"""Journey health: the pure score model, the passes that compute and store scores, the
alerts and staleness rules, and the reads that explain them (docs/health-score.md)."""
