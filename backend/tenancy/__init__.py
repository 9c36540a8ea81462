"""Organizations, workspaces, members, invitations, API tokens, and the organization
administration of sign-in (SSO connections, email domains). Above ``backend.auth`` and
``backend.authz``: it checks rights through ``Access``."""
