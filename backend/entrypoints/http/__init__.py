"""HTTP routes and middleware outside GraphQL: health probes, SSO sign-in, feedback ingestion."""
