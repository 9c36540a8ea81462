"""Domain events: written with the change, relayed to the broker, handled idempotently."""
