"""AES-256-GCM encryption of personal fields with a key ring from the environment.

`FIELD_ENCRYPTION_KEYS` is a comma-separated list of `key-id:base64-key` pairs. The first key encrypts; every
key decrypts, so a key can be rotated in by putting it first and running `manage.py rotate_encryption_keys`.
Each stored value names the key that sealed it: `enc:v1:<key-id>:<base64url(nonce + ciphertext + tag)>`.
The keys are independent of SECRET_KEY on purpose: a leaked session secret must not open the data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "enc:v1:"
NONCE_BYTES = 12


class DecryptionError(ValueError):
    """A stored value could not be opened: unknown key, wrong column or tampered ciphertext."""


@dataclass(frozen=True)
class KeyRing:
    primary_id: str
    keys: dict[str, AESGCM]

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keys[self.primary_id].encrypt(nonce, plaintext.encode(), context.encode())
        token = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}{self.primary_id}:{token}"

    def decrypt(self, stored: str, *, context: str) -> str:
        key_id = key_id_of(stored)
        if key_id not in self.keys:
            raise DecryptionError(f"no key {key_id!r} in FIELD_ENCRYPTION_KEYS")
        token = stored[len(PREFIX) + len(key_id) + 1 :]
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            plain = self.keys[key_id].decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except Exception as exc:  # InvalidTag, bad padding, short input: all mean "cannot open"
            raise DecryptionError("stored value cannot be decrypted") from exc
        return plain.decode()


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def key_id_of(stored: str) -> str:
    if not is_encrypted(stored):
        raise DecryptionError("value is not encrypted")
    return stored[len(PREFIX) :].split(":", 1)[0]


def parse_key_ring(spec: str) -> KeyRing:
    keys: dict[str, AESGCM] = {}
    order: list[str] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id or ":" in key_id:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS entries look like 'key-id:base64-key'.")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ImproperlyConfigured(f"Encryption key {key_id!r} is not valid base64.") from exc
        if len(raw) != 32:
            raise ImproperlyConfigured(f"Encryption key {key_id!r} must be 32 bytes (AES-256).")
        keys[key_id] = AESGCM(raw)
        order.append(key_id)
    if not order:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS names no key.")
    return KeyRing(primary_id=order[0], keys=keys)


@lru_cache(maxsize=4)
def _ring_for(spec: str) -> KeyRing:
    return parse_key_ring(spec)


def key_ring() -> KeyRing:
    """Return the key ring for the current settings (cached per distinct setting value)."""
    return _ring_for(settings.FIELD_ENCRYPTION_KEYS)


def blind_index(value: str) -> str:
    """Return a keyed hash for exact-match lookups of an encrypted value, normalised for case and spaces."""
    normalised = " ".join(value.split()).casefold()
    return hmac.new(settings.BLIND_INDEX_KEY.encode(), normalised.encode(), hashlib.sha256).hexdigest()


def generate_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()
