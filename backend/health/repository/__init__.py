"""Health's SQL: the facts a pass reads, the evidence it sums, the scores, alerts and
settings it keeps. The services in ``backend.health`` hold the rules and call these."""
