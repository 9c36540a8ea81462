"""GraphQL API layer: strawberry types, resolvers and dataloaders."""
