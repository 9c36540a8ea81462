"""Outbound network access: DNS lookups and the one guarded HTTP client for server-side fetches."""
