"""Feedback over GraphQL: submit one or a batch, read them per workspace."""
