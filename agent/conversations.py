"""Encrypted conversation store: SQLite (WAL) in the data dir, message text sealed per subject.

Two files on purpose: `conversations.db` (sealed messages) and `keys/subject-keys.db` (each subject's
data key, wrapped by the master key). Erasing a subject deletes its key, so a backup of
conversations.db taken earlier holds rows nobody can decrypt any more (crypto-shredding).
SQLite's `secure_delete` zeroes deleted rows and the WAL is checkpointed after every erasure, so deleted
ciphertext does not linger in free pages or the log either.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agent.crypto import DecryptionError, Keyring, open_sealed, seal
from agent.errors import AgentError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subjects (
    subject_id TEXT PRIMARY KEY,      -- keyed hash of the reference code; the code is never stored
    consent_at TEXT NOT NULL,         -- when the customer chose "chat and keep my conversation"
    notice_version TEXT NOT NULL,     -- the privacy notice they saw
    last_active_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects(subject_id),
    at TEXT NOT NULL,
    role TEXT NOT NULL,
    sealed BLOB NOT NULL               -- nonce || AES-GCM(redacted text) under the subject's data key
);
CREATE INDEX IF NOT EXISTS messages_by_subject ON messages(subject_id);
"""
_KEY_SCHEMA = """
CREATE TABLE IF NOT EXISTS subject_keys (subject_id TEXT PRIMARY KEY, wrapped BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS key_check (id INTEGER PRIMARY KEY CHECK (id = 1), sealed BLOB NOT NULL);
"""
_KEY_CHECK = "key-check"


class StoreError(AgentError):
    """The conversation store cannot be used (disk full, unreadable file, wrong master key)."""


class UnknownSubject(AgentError):
    """No stored data for this reference code."""


@dataclass(frozen=True)
class StoredMessage:
    """One decrypted message of a subject."""

    at: str
    role: str
    text: str


@dataclass(frozen=True)
class Deletion:
    """What erasing one subject removed (never the content)."""

    subject_id: str
    messages: int
    key_destroyed: bool


class ConversationStore:
    """Sealed conversations per subject; thread-safe; one writer at a time per process."""

    def __init__(self, path: Path, key_path: Path, keyring: Keyring) -> None:
        self._keyring = keyring
        self._lock = threading.Lock()
        try:
            self._db = _open(path, _SCHEMA)
            self._keys = _open(key_path, _KEY_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the conversation store {path}: {exc}") from exc
        self._check_master_key()

    def subject_id(self, reference: str) -> str:
        """The id stored for a reference code."""
        return self._keyring.subject_id(reference)

    def open_subject(self, reference: str, notice_version: str, now: datetime | None = None) -> str:
        """Record the consent of a new subject and create its data key; returns the subject id."""
        at = _iso(now)
        subject = self.subject_id(reference)
        wrapped = self._keyring.wrap(self._keyring.new_data_key(), subject)
        with self._writing():
            self._keys.execute("INSERT INTO subject_keys VALUES (?, ?)", (subject, wrapped))
            self._db.execute("INSERT INTO subjects VALUES (?, ?, ?, ?)", (subject, at, notice_version, at))
        return subject

    def append(self, reference: str, role: str, text: str, now: datetime | None = None) -> None:
        """Seal and store one message of the subject."""
        subject = self.subject_id(reference)
        cipher = AESGCM(self._data_key(subject))
        at = _iso(now)
        sealed = seal(cipher, text.encode(), f"{subject}|{role}".encode())
        with self._writing():
            self._db.execute(
                "INSERT INTO messages(subject_id, at, role, sealed) VALUES (?, ?, ?, ?)",
                (subject, at, role, sealed),
            )
            self._db.execute("UPDATE subjects SET last_active_at = ? WHERE subject_id = ?", (at, subject))

    def consent(self, reference: str) -> tuple[str, str]:
        """(consent time, notice version) of a subject."""
        row = self._db.execute(
            "SELECT consent_at, notice_version FROM subjects WHERE subject_id = ?",
            (self.subject_id(reference),),
        ).fetchone()
        if row is None:
            raise UnknownSubject("No stored conversation has this reference code.")
        return row[0], row[1]

    def messages(self, reference: str) -> list[StoredMessage]:
        """Every message of a subject, decrypted, oldest first."""
        subject = self.subject_id(reference)
        self.consent(reference)  # raises UnknownSubject
        return self.read_sealed(self._db, subject)

    def read_sealed(self, db: sqlite3.Connection, subject: str) -> list[StoredMessage]:
        """Decrypt a subject's rows from `db` (this store or a copy of it) with the current key store."""
        cipher = AESGCM(self._data_key(subject))
        rows = db.execute(
            "SELECT at, role, sealed FROM messages WHERE subject_id = ? ORDER BY id", (subject,)
        ).fetchall()
        return [
            StoredMessage(at, role, open_sealed(cipher, sealed, f"{subject}|{role}".encode()).decode())
            for at, role, sealed in rows
        ]

    def erase(self, subject: str) -> Deletion:
        """Delete the subject's rows and destroy its key; checkpoint so nothing survives in the WAL."""
        with self._writing():
            count = self._db.execute("DELETE FROM messages WHERE subject_id = ?", (subject,)).rowcount
            self._db.execute("DELETE FROM subjects WHERE subject_id = ?", (subject,))
            destroyed = self._keys.execute(
                "DELETE FROM subject_keys WHERE subject_id = ?", (subject,)
            ).rowcount
        self._checkpoint()
        return Deletion(subject, count, bool(destroyed))

    def expired(self, retention_days: int, now: datetime | None = None) -> list[str]:
        """Subject ids whose last message is older than the retention period."""
        cutoff = _iso((now or datetime.now(UTC)) - timedelta(days=retention_days))
        rows = self._db.execute("SELECT subject_id FROM subjects WHERE last_active_at < ?", (cutoff,))
        return [row[0] for row in rows.fetchall()]

    def counts(self) -> tuple[int, int]:
        """(subjects, messages) currently stored."""
        subjects = self._db.execute("SELECT count(*) FROM subjects").fetchone()[0]
        messages = self._db.execute("SELECT count(*) FROM messages").fetchone()[0]
        return subjects, messages

    def close(self) -> None:
        """Checkpoint and close both databases."""
        self._checkpoint()
        self._db.close()
        self._keys.close()

    def _data_key(self, subject: str) -> bytes:
        row = self._keys.execute(
            "SELECT wrapped FROM subject_keys WHERE subject_id = ?", (subject,)
        ).fetchone()
        if row is None:
            raise UnknownSubject("No stored conversation has this reference code.")
        try:
            return self._keyring.unwrap(row[0], subject)
        except DecryptionError as exc:
            raise StoreError(
                "The master key does not open the conversation keys: it is not the key they were "
                "created with (check SUPPORT_AGENT_MASTER_KEY / master_key_file)."
            ) from exc

    def _check_master_key(self) -> None:
        # With another master key every subject id would differ and the store would look empty:
        # say so at start instead.
        row = self._keys.execute("SELECT sealed FROM key_check").fetchone()
        if row is None:
            with self._keys:
                self._keys.execute(
                    "INSERT INTO key_check VALUES (1, ?)", (self._keyring.wrap(b"ok", _KEY_CHECK),)
                )
            return
        try:
            self._keyring.unwrap(row[0], _KEY_CHECK)
        except DecryptionError as exc:
            raise StoreError(
                "The master key does not open the conversation keys: it is not the key they were "
                "created with (check SUPPORT_AGENT_MASTER_KEY / master_key_file)."
            ) from exc

    def _checkpoint(self) -> None:
        with self._lock:
            for db in (self._db, self._keys):
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def _writing(self) -> Iterator[None]:
        with self._lock:
            try:
                with self._keys, self._db:  # both commit, or neither (a key without rows is harmless)
                    yield
            except sqlite3.Error as exc:
                raise StoreError(f"Could not write to the conversation store: {exc}") from exc


def _open(path: Path, schema: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = sqlite3.connect(path, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten with zeros
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(schema)
    path.chmod(0o600)
    return db


def _iso(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
