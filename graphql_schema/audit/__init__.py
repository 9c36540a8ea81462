"""GraphQL surface of the audit trail and the dead letters."""
