"""Organizations, workspaces, members and API tokens."""
