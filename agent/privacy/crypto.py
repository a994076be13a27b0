"""Keys for data at rest: one master key on this machine, one data key per subject, AES-GCM throughout.

The master key never encrypts content itself; it wraps the per-subject data keys and derives the keyed
hash that turns a customer's reference code into the subject id stored on disk (so the code itself is
never written anywhere), and the key that seals the staff's two-factor secrets. Destroying a subject's
wrapped key makes every copy of its rows unreadable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from agent.errors import ConfigError

KEY_BYTES = 32
NONCE_BYTES = 12
# Crockford's base32 without I, L, O, U: a code a customer can read out on the phone.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class DecryptionError(Exception):
    """Ciphertext that this key cannot open (wrong key, shredded key or tampered data)."""


def load_master_key(key_file: Path, key_b64: str | None = None) -> bytes:
    """The master key from the given base64 text, else from `key_file` (created with 0600 if missing)."""
    if key_b64:
        return _decode_key(key_b64, "SUPPORT_AGENT_MASTER_KEY")
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it a moment ago
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
    mode = stat.S_IMODE(key_file.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"The master key file {key_file} can be read by other users (mode {mode:o}); "
            f"run: chmod 600 {key_file}"
        )
    return _decode_key(key_file.read_text().strip(), str(key_file))


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(f"The master key in {where} is not base64 of {KEY_BYTES} bytes.")
    return key


class Keyring:
    """Derives the wrapping key, the subject-id key and the staff-secrets key from the master key."""

    def __init__(self, master_key: bytes) -> None:
        self._wrap = AESGCM(_derive(master_key, b"wrap subject keys"))
        self._ids = _derive(master_key, b"subject ids")
        self._staff = AESGCM(_derive(master_key, b"staff two-factor secrets"))

    def subject_id(self, reference: str) -> str:
        """The keyed hash stored instead of the customer's reference code."""
        return hmac.new(self._ids, reference.encode(), hashlib.sha256).hexdigest()

    def new_data_key(self) -> bytes:
        """A fresh random data key for one subject."""
        return AESGCM.generate_key(bit_length=KEY_BYTES * 8)

    def wrap(self, data_key: bytes, subject_id: str) -> bytes:
        """The data key encrypted under the master key (bound to its subject)."""
        return seal(self._wrap, data_key, subject_id.encode())

    def unwrap(self, wrapped: bytes, subject_id: str) -> bytes:
        """The data key back; DecryptionError with another master key."""
        return open_sealed(self._wrap, wrapped, subject_id.encode())

    def seal_staff_secret(self, secret: bytes, username: str) -> bytes:
        """A staff member's two-factor secret encrypted under the master key (bound to the user)."""
        return seal(self._staff, secret, b"staff:" + username.encode())

    def open_staff_secret(self, sealed: bytes, username: str) -> bytes:
        """The two-factor secret back; DecryptionError with another master key or user."""
        return open_sealed(self._staff, sealed, b"staff:" + username.encode())


def seal(cipher: AESGCM, plaintext: bytes, associated: bytes) -> bytes:
    """nonce || AES-GCM ciphertext+tag."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + cipher.encrypt(nonce, plaintext, associated)


def open_sealed(cipher: AESGCM, sealed: bytes, associated: bytes) -> bytes:
    """The plaintext of `seal`'s output; DecryptionError when the key or data do not match."""
    try:
        return cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
    except InvalidTag as exc:
        raise DecryptionError("cannot decrypt: wrong key or altered data") from exc


def new_reference_code() -> str:
    """A random reference code like 7KQM-2XTP-9RWA-HC4D (80 bits)."""
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))


def normalise_reference_code(text: str) -> str | None:
    """The canonical form of a typed code (case, spaces, O/0 and I/L/1 mix-ups), or None if malformed."""
    raw = (text or "").upper().replace(" ", "").replace("-", "")
    raw = raw.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if len(raw) != 16 or any(c not in _CODE_ALPHABET for c in raw):
        return None
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _derive(master_key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose).derive(master_key)
