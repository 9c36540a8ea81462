"""SSO connections and browser sessions over GraphQL."""
