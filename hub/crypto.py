"""Secrets at rest (Fernet), password hashing and random tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from werkzeug.security import check_password_hash, generate_password_hash


class SecretBox:
    """Encrypts and decrypts credentials with a key derived from the configured secret."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("a secret key is required to encrypt credentials")
        digest = hashlib.sha256(("calhub-credentials:" + secret_key).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._sign_key = hashlib.sha256(("calhub-signing:" + secret_key).encode()).digest()

    def encrypt_json(self, value: Any) -> bytes:
        """Encrypt a JSON-serialisable value."""
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode())

    def decrypt_json(self, token: bytes | None) -> Any:
        """Decrypt what ``encrypt_json`` produced; raises ValueError when the key does not match."""
        if token is None:
            return None
        try:
            return json.loads(self._fernet.decrypt(bytes(token)))
        except InvalidToken as e:
            raise ValueError("stored credentials cannot be decrypted with this secret key") from e

    def sign(self, message: str) -> str:
        """URL-safe HMAC-SHA256 of ``message`` (for signed links and OAuth state)."""
        mac = hmac.new(self._sign_key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def verify(self, message: str, signature: str) -> bool:
        """Constant-time check of a ``sign`` result."""
        return hmac.compare_digest(self.sign(message), signature or "")


def hash_password(password: str) -> str:
    """A salted scrypt hash of a password."""
    return generate_password_hash(password, method="scrypt")


def check_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``."""
    try:
        return check_password_hash(stored_hash, password)
    except (ValueError, TypeError):
        return False


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    """A long random token, URL-safe, with an optional readable prefix."""
    return prefix + secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """SHA-256 hex of a token: tokens are random and long, so a fast hash is safe to index."""
    return hashlib.sha256(token.encode()).hexdigest()
