"""The keys audit chains are signed with: the current one, and retired ones by id.

A key is derived (HKDF, as backend/crypto/encryption.py derives its key) from
WAYPOST_AUDIT_KEY, or from WAYPOST_SECRET_KEY when that is unset: the database
never holds it, so whoever has only the database cannot sign an event. Each event
stores the id of the key that signed it; the id is a fingerprint of the key, so a
retired value listed in WAYPOST_AUDIT_RETIRED_KEYS finds its events again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from backend.crypto.encryption import derive_key
from backend.settings import Settings

# Events written before chains were keyed: plain SHA-256, accepted only as the
# start of a chain sealed by a keyed event (backend/audit/chain.py).
LEGACY_KEY_ID = "sha256"
PURPOSE = "audit-chain"
INFO_KEY = "audit_keys"


@dataclass(frozen=True)
class AuditKey:
    id: str
    secret: bytes = field(repr=False)

    @classmethod
    def derive(cls, material: str) -> AuditKey:
        secret = derive_key(material, PURPOSE)
        fingerprint = hmac.new(secret, b"waypost audit key id", hashlib.sha256).hexdigest()
        return cls(f"hmac-{fingerprint[:16]}", secret)


@dataclass(frozen=True)
class AuditKeyring:
    """Signs with ``current``; verifies with any key it knows by id."""

    current: AuditKey
    retired: tuple[AuditKey, ...] = ()

    def find(self, key_id: str) -> AuditKey | None:
        return next((k for k in (self.current, *self.retired) if k.id == key_id), None)

    @classmethod
    def from_material(cls, current: str, retired: Iterable[str] = ()) -> AuditKeyring:
        return cls(AuditKey.derive(current), tuple(AuditKey.derive(m) for m in retired))

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditKeyring:
        current = settings.audit_key.get_secret_value() if settings.audit_key else None
        return cls.from_material(
            current or settings.secret_key,
            (m.get_secret_value() for m in settings.audit_retired_keys),
        )


def keyring_of(session: Session) -> AuditKeyring:
    """The keys a session's database was given (backend.db.engine.Database)."""
    keys = session.info.get(INFO_KEY)
    if not isinstance(keys, AuditKeyring):
        raise RuntimeError("no audit keys: sessions must come from a Database")
    return keys
