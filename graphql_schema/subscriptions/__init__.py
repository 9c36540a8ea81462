"""GraphQL subscriptions, fed by the live events the outbox relay announces."""
