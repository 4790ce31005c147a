"""Envelope encryption for every secret Keyhold keeps.

Each secret is encrypted with its own random 256-bit data key (AES-256-GCM), and the
data key is wrapped by the active master key (AES-256-GCM again). Both use the
secret's UUID as associated data, so a ciphertext copied onto another row does not
open. Master keys come from ``settings.KEYHOLD_MASTER_KEYS``, the first one active;
each is known by an id derived from its bytes, so ciphertexts wrapped by an older
key still open while that key stays configured.
"""

import hashlib
import hmac
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

NONCE_BYTES = 12


class SecretUnavailable(Exception):
    """A stored secret cannot be opened: its master key is missing or wrong."""


def master_key_id(key: bytes) -> str:
    return hashlib.sha256(b"keyhold master key id\0" + key).hexdigest()[:16]


def active_master_key() -> tuple[str, bytes]:
    key = settings.KEYHOLD_MASTER_KEYS[0]
    return master_key_id(key), key


def master_key_by_id(key_id: str) -> bytes | None:
    for key in settings.KEYHOLD_MASTER_KEYS:
        if master_key_id(key) == key_id:
            return key
    return None


def seal(secret_id: uuid.UUID, plaintext: str) -> tuple[str, bytes, bytes]:
    """Encrypt ``plaintext``; return (master key id, wrapped data key, ciphertext)."""
    key_id, master = active_master_key()
    data_key = AESGCM.generate_key(bit_length=256)
    ciphertext = _encrypt(data_key, plaintext.encode(), secret_id)
    return key_id, _encrypt(master, data_key, secret_id), ciphertext


def unseal(secret_id: uuid.UUID, key_id: str, wrapped: bytes, ciphertext: bytes) -> str:
    data_key = unwrap(secret_id, key_id, wrapped)
    try:
        return _decrypt(data_key, ciphertext, secret_id).decode()
    except InvalidTag:
        raise SecretUnavailable(
            f"secret {secret_id}: its ciphertext does not match its data key "
            "(the row was altered or copied from another secret)"
        ) from None


def unwrap(secret_id: uuid.UUID, key_id: str, wrapped: bytes) -> bytes:
    master = master_key_by_id(key_id)
    if master is None:
        raise SecretUnavailable(
            f"secret {secret_id} is wrapped by master key {key_id}, which is not in "
            "KEYHOLD_MASTER_KEYS: add that key back (after the active one)"
        )
    try:
        return _decrypt(master, wrapped, secret_id)
    except InvalidTag:
        raise SecretUnavailable(
            f"secret {secret_id}: master key {key_id} does not open its data key"
        ) from None


def rewrap(secret_id: uuid.UUID, key_id: str, wrapped: bytes) -> tuple[str, bytes]:
    """Wrap a secret's data key under the active master key; the secret is untouched."""
    data_key = unwrap(secret_id, key_id, wrapped)
    active_id, master = active_master_key()
    return active_id, _encrypt(master, data_key, secret_id)


def fingerprint(plaintext: str, master: bytes | None = None) -> str:
    """Identify a secret without storing it: HMAC-SHA256 under a derived key.

    The HMAC key is derived from a master key, the active one unless given, so
    ``rotate_master_key`` recomputes stored fingerprints along with the wrapping.
    """
    key = _fingerprint_key(master or active_master_key()[1])
    return hmac.new(key, plaintext.encode(), hashlib.sha256).hexdigest()


def candidate_fingerprints(plaintext: str) -> list[str]:
    """The fingerprint under every configured master key.

    Lookups use all of them, so a secret fingerprinted before the active key changed
    is still found while ``rotate_master_key`` has not reached it yet.
    """
    return [fingerprint(plaintext, key) for key in settings.KEYHOLD_MASTER_KEYS]


def _fingerprint_key(master: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"keyhold fingerprint"
    ).derive(master)


def _encrypt(key: bytes, data: bytes, secret_id: uuid.UUID) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, data, secret_id.bytes)


def _decrypt(key: bytes, blob: bytes, secret_id: uuid.UUID) -> bytes:
    blob = bytes(blob)
    return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], secret_id.bytes)
