"""Authentication: who is calling (``subject.py``), proven by an API token, a browser
session or an identity provider's sign-in. The bottom layer: it imports neither
``backend.authz`` nor ``backend.tenancy``."""
