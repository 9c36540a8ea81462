"""Authentication: who is calling (API tokens now, SSO sessions later)."""
