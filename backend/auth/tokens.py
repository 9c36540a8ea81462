"""API token secrets: generated once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from backend.db.scoping import TenantBinding

TOKEN_PREFIX = "wp_"  # noqa: S105 - a public marker, not a secret
_PREFIX_LENGTH = 12


@dataclass(frozen=True)
class NewSecret:
    plaintext: str
    prefix: str
    hash: str


def new_secret() -> NewSecret:
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return NewSecret(plaintext, plaintext[:_PREFIX_LENGTH], hash_secret(plaintext))


def hash_secret(plaintext: str) -> str:
    # 256 random bits need no slow hash or salt: nothing to brute-force, and a
    # plain digest lets us find the token with one indexed lookup.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and 20 < len(value) < 200


def presenting(secret: str) -> TenantBinding:
    """The binding of a transaction that looks up the row a presented secret names
    (a token, a session, an invitation link, an SSO login's state), before its tenant
    is known: row-level security shows that row, and no other."""
    return TenantBinding(secret_hash=hash_secret(secret))


def identity_hash(issuer: str, subject: str) -> str:
    """What binds an identity the provider has just vouched for (see ``presenting``)."""
    return hash_secret(f"{issuer} {subject}")
