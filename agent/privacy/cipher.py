"""Sealing one subject's stored text under its data key.

Every blob in the conversation store is AES-GCM under the subject's own data key, with associated data
`"{subject}|{purpose}"` (the purpose is the message role, the signal kind, "transcript" or "contact"). The
associated data binds a blob to its subject and to what it is, so a row copied to another subject or
column does not open. This is the one place that builds it: existing stores depend on these exact bytes.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agent.privacy.crypto import open_sealed, seal


class SubjectCipher:
    """Seals and opens the text of one subject (DecryptionError from `open` with a wrong key or data)."""

    def __init__(self, data_key: bytes, subject: str) -> None:
        self.subject = subject
        self._aead = AESGCM(data_key)

    def seal(self, text: str, purpose: str) -> bytes:
        """nonce || AES-GCM(text), bound to this subject and `purpose`."""
        return seal(self._aead, text.encode(), self._associated(purpose))

    def open(self, blob: bytes, purpose: str) -> str:
        """The text `seal` sealed for the same purpose."""
        return open_sealed(self._aead, blob, self._associated(purpose)).decode()

    def _associated(self, purpose: str) -> bytes:
        return f"{self.subject}|{purpose}".encode()
