"""Secrets we must read back (SSO client secrets), encrypted with a key derived from
WAYPOST_SECRET_KEY: a database dump alone reveals none of them."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class UndecryptableSecretError(ValueError):
    """The value was encrypted under another WAYPOST_SECRET_KEY, or was altered."""


def derive_key(secret_key: str, purpose: str) -> bytes:
    """32 bytes for one purpose: a key derived for one use is useless for another."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"waypost:{purpose}".encode()
    ).derive(secret_key.encode())


def _fernet(secret_key: str, purpose: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, purpose)))


def encrypt(secret_key: str, purpose: str, plaintext: str) -> str:
    return _fernet(secret_key, purpose).encrypt(plaintext.encode()).decode()


def decrypt(secret_key: str, purpose: str, sealed: str) -> str:
    try:
        return _fernet(secret_key, purpose).decrypt(sealed.encode()).decode()
    except InvalidToken as error:
        raise UndecryptableSecretError(f"cannot decrypt this {purpose}") from error
