"""GraphQL surface of organizations, workspaces, members and API tokens."""
