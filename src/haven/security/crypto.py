"""Field encryption at rest with AES-256-GCM.

Ciphertexts carry the id of the key that made them (``v1.<kid>.<nonce>.<ciphertext>``) so keys can be
rotated: the first configured key encrypts, every configured key decrypts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class DecryptionError(Exception):
    """The value was tampered with, truncated, or made with a key we do not have."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FieldCipher:
    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"encryption key {kid!r} must be 32 bytes (AES-256)")
            if not kid.isalnum():
                raise ValueError(f"encryption key id {kid!r} must be alphanumeric")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self._current = next(iter(keys))
        # A separate key for MACs, derived so that no key is used for two purposes.
        self._mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"haven mac").derive(
            keys[self._current]
        )

    @property
    def current_key_id(self) -> str:
        """The id of the key that encrypts new values."""
        return self._current

    def mac(self, message: str, *, context: str) -> str:
        """HMAC-SHA256 of ``message`` under a key derived from the current key, bound to ``context``.

        For short secrets such as one-time codes: a plain hash of six digits is reversed in a moment
        by anyone who can read the database; this one needs the key too.
        """
        return hmac.new(self._mac_key, f"{context}\0{message}".encode(), hashlib.sha256).hexdigest()

    @classmethod
    def from_config(cls, spec: str) -> FieldCipher:
        """Parse ``kid:base64key[,kid:base64key…]`` as in ``HAVEN_ENCRYPTION_KEYS``."""
        keys: dict[str, bytes] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kid, sep, encoded = part.partition(":")
            if not sep:
                raise ValueError("encryption keys are written kid:base64key")
            keys[kid] = base64.urlsafe_b64decode(encoded)
        return cls(keys)

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt; ``context`` (e.g. ``channel_account.credentials``) is bound as associated data,
        so a ciphertext copied into another column does not decrypt."""
        nonce = os.urandom(12)
        sealed = self._keys[self._current].encrypt(nonce, plaintext.encode(), context.encode())
        return ".".join((_VERSION, self._current, _b64(nonce), _b64(sealed)))

    def decrypt(self, token: str, *, context: str) -> str:
        try:
            version, kid, nonce, sealed = token.split(".")
        except ValueError as exc:
            raise DecryptionError("malformed ciphertext") from exc
        if version != _VERSION or kid not in self._keys:
            raise DecryptionError("unknown ciphertext version or key id")
        try:
            plain = self._keys[kid].decrypt(_unb64(nonce), _unb64(sealed), context.encode())
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("ciphertext failed authentication") from exc
        return plain.decode()
