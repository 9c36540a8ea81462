"""GraphQL surface of journey mapping."""
