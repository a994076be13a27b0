"""Encrypted conversation store: SQLite (WAL) in the data dir by default, PostgreSQL for scale-out.

Two databases on purpose (agent.privacy.schema): the conversations (sealed messages, feedback, tickets)
and the subject keys (each subject's data key, wrapped by the master key). Erasing a subject deletes its
key, so a backup of the conversations taken earlier holds rows nobody can decrypt any more
(crypto-shredding). After an erasure the deleted rows are also physically removed: SQLite runs with
`secure_delete` and checkpoints its WAL; PostgreSQL vacuums the tables.

`ConversationStore` is the facade: it owns the keys, the connections and transactions, and turns
database errors into StoreError; the rows themselves are read and written by agent.privacy.conversations,
.tickets and .feedback, each sealing through a SubjectCipher (agent.privacy.cipher).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from agent.clock import iso
from agent.errors import AgentError
from agent.privacy import conversations, feedback, tickets
from agent.privacy.cipher import SubjectCipher
from agent.privacy.conversations import ProcessingLimits, StoredMessage
from agent.privacy.crypto import DecryptionError, Keyring
from agent.privacy.feedback import Signal
from agent.privacy.schema import (
    DATA_TABLES,
    KEY_CHECK,
    KEY_TABLES,
    MESSAGES,
    SIGNALS,
    SUBJECT_DATA,
    SUBJECT_KEYS,
    SUBJECTS,
    TICKETS,
    open_database,
    sqlite_url,
)
from agent.privacy.tickets import Ticket

__all__ = [
    "ConversationStore",
    "Deletion",
    "ProcessingLimits",
    "Signal",
    "StoreError",
    "StoredMessage",
    "Ticket",
    "UnknownSubject",
    "sqlite_url",
]

_KEY_CHECK = "key-check"
_PSEUDONYM = re.compile(r"[0-9a-f]{16}")


class StoreError(AgentError):
    """The conversation store cannot be used (disk full, unreachable server, wrong master key)."""


class UnknownSubject(AgentError):
    """No stored data for this reference code."""


@dataclass(frozen=True)
class Deletion:
    """What erasing one subject removed (never the content)."""

    subject_id: str
    messages: int
    key_destroyed: bool
    feedback_rows: int = 0
    tickets: int = 0


class ConversationStore:
    """Sealed conversations per subject; thread-safe."""

    def __init__(
        self, url: str, key_url: str, keyring: Keyring, connect_args: dict[str, Any] | None = None
    ) -> None:
        self._keyring = keyring
        self._lock = threading.Lock()
        try:
            self._db = open_database(url, DATA_TABLES, connect_args)
            self._keys = open_database(key_url, KEY_TABLES, connect_args)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"Cannot open the conversation store: {_reason(exc)}") from exc
        self._check_master_key()

    @property
    def engine(self) -> Engine:
        """The conversations database (staff accounts live there too)."""
        return self._db

    @property
    def keyring(self) -> Keyring:
        """The keys derived from the master key (staff two-factor secrets are sealed with one of them)."""
        return self._keyring

    def subject_id(self, reference: str) -> str:
        """The id stored for a reference code."""
        return self._keyring.subject_id(reference)

    # subjects and messages ----------------------------------------------------------------------
    def open_subject(self, reference: str, notice_version: str, now: datetime | None = None) -> str:
        """Record the consent of a new subject and create its data key; returns the subject id."""
        at = iso(now)
        subject = self.subject_id(reference)
        wrapped = self._keyring.wrap(self._keyring.new_data_key(), subject)
        with self._writing() as (db, keys):
            keys.execute(SUBJECT_KEYS.insert().values(subject_id=subject, wrapped=wrapped))
            conversations.add_subject(db, subject, notice_version, at)
        return subject

    def append(self, reference: str, role: str, text: str, now: datetime | None = None) -> None:
        """Seal and store one message of the subject."""
        cipher = self._cipher(self.subject_id(reference))
        with self._writing() as (db, _):
            conversations.add_message(db, cipher, role, text, iso(now))

    def consent(self, reference: str) -> tuple[str, str]:
        """(consent time, notice version) of a subject."""
        with self._reading() as conn:
            found = conversations.consent(conn, self.subject_id(reference))
        if found is None:
            raise UnknownSubject("No stored conversation has this reference code.")
        return found

    def messages(self, reference: str) -> list[StoredMessage]:
        """Every message of a subject, decrypted, oldest first."""
        self.consent(reference)  # raises UnknownSubject
        return self.read_sealed(self._db, self.subject_id(reference))

    def read_sealed(self, db: Engine, subject: str) -> list[StoredMessage]:
        """Decrypt a subject's rows from `db` (this store or a backup of it) with the current key store."""
        cipher = self._cipher(subject)
        with self._reading(db) as conn:
            return conversations.messages(conn, cipher)

    def rectify_message(self, reference: str, message_id: int, text: str) -> None:
        """Replace the text of one of the subject's messages (Art. 16); UnknownSubject if not theirs."""
        cipher = self._cipher(self.subject_id(reference))
        with self._writing() as (db, _):
            if not conversations.rectify(db, cipher, message_id, text):
                raise UnknownSubject(f"This conversation has no message number {message_id}.")
        self._compact()  # the old text must not stay in the WAL or free pages

    def rectify_contact(self, reference: str, ticket_id: int, contact: str) -> None:
        """Replace the contact of one of the subject's handoff tickets; UnknownSubject if not theirs."""
        cipher = self._cipher(self.subject_id(reference))
        with self._writing() as (db, _):
            if not tickets.rectify_contact(db, cipher, ticket_id, contact):
                raise UnknownSubject(f"This conversation has no handoff ticket number {ticket_id}.")
        self._compact()

    def processing_limits(self, reference: str) -> ProcessingLimits:
        """The subject's restriction (Art. 18) and objection (Art. 21), if any."""
        with self._reading() as conn:
            return conversations.processing_limits(conn, self.subject_id(reference))

    def set_processing_limits(self, reference: str, limits: ProcessingLimits) -> int:
        """Store the subject's limits; an objection also deletes its feedback signals (how many)."""
        subject = self.subject_id(reference)
        with self._writing() as (db, _):
            conversations.set_processing_limits(db, subject, limits)
            removed = feedback.erase_signals(db, subject) if limits.objected_at else 0
        if removed:
            self._compact()
        return removed

    def expired(self, retention_days: int, now: datetime | None = None) -> list[str]:
        """Subject ids whose last message is older than the retention period."""
        with self._reading() as conn:
            return conversations.expired(conn, retention_days, now)

    def holds_tickets_or_feedback(self, subject: str) -> bool:
        """True while a ticket or a feedback signal of the subject is stored."""
        with self._reading() as conn:
            return conversations.holds_tickets_or_feedback(conn, subject)

    def counts(self) -> tuple[int, int]:
        """(subjects, messages) currently stored."""
        with self._reading() as conn:
            return conversations.counts(conn)

    def inventory(self, active_since: str) -> dict[str, int]:
        """Row counts per kind of stored data, and the subjects active since a time (for incidents)."""
        with self._reading() as conn:
            counts = {
                table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for table in (SUBJECTS, MESSAGES, TICKETS, SIGNALS)
            }
            counts["subjects_active_in_window"] = conversations.active_since(conn, active_since)
        return counts

    # feedback -----------------------------------------------------------------------------------
    def add_signal(self, reference: str, kind: str, question: str) -> None:
        """Remember a refused or rated (redacted) question of a consenting customer."""
        cipher = self._cipher(self.subject_id(reference))
        with self._writing() as (db, _):
            feedback.add_signal(db, cipher, kind, question, iso())

    def signals(self, kinds: tuple[str, ...], subject: str | None = None) -> list[Signal]:
        """Every signal of the given kinds (of one subject, if given), newest first, decrypted."""
        with self._reading() as conn:
            return feedback.signals(conn, self._cipher, kinds, subject)

    def count_redactions(self, found: dict[str, int]) -> None:
        """Add today's counts of redacted types (no link to any message or person)."""
        if not found:
            return
        with self._writing() as (db, _):
            feedback.count_redactions(db, iso()[:10], found)

    def redaction_counts(self) -> list[tuple[str, str, int]]:
        """(day, type, count), newest day first."""
        with self._reading() as conn:
            return feedback.redaction_counts(conn)

    # tickets ------------------------------------------------------------------------------------
    def add_ticket(self, reference: str, transcript: str, contact: str) -> int:
        """Open a handoff ticket for the subject; its number."""
        cipher = self._cipher(self.subject_id(reference))
        at = iso()
        with self._writing() as (db, _):
            number = tickets.add(db, cipher, transcript, contact, at)
            conversations.touch(db, cipher.subject, at)
        return number

    def tickets(self, status: str | None = None, subject: str | None = None) -> list[Ticket]:
        """Tickets, oldest first, decrypted (optionally only 'open' or 'done', or of one subject)."""
        with self._reading() as conn:
            return tickets.read(conn, self._cipher, status, subject)

    def close_ticket(self, ticket_id: int, by: str) -> None:
        """Mark a ticket done."""
        with self._writing() as (db, _):
            done = tickets.close(db, ticket_id, by, iso())
        if not done:
            raise UnknownSubject(f"There is no open ticket {ticket_id}.")

    # erasure and lifecycle ----------------------------------------------------------------------
    def erase(self, subject: str) -> Deletion:
        """Delete the subject's rows and destroy its key, then remove the dead rows physically."""
        with self._writing() as (db, keys):
            signals = feedback.erase_signals(db, subject)
            handoffs = tickets.erase(db, subject)
            count = conversations.erase(db, subject)  # last: the other rows refer to the subject
            destroyed = keys.execute(
                sa.delete(SUBJECT_KEYS).where(SUBJECT_KEYS.c.subject_id == subject)
            ).rowcount
        self._compact()
        return Deletion(subject, count, bool(destroyed), signals, handoffs)

    def erase_expired_rows(self, feedback_before: str, tickets_done_before: str) -> tuple[int, int]:
        """Retention of feedback and tickets: delete every signal given before `feedback_before` and
        every ticket done before `tickets_done_before` (ISO times). (signals, tickets) deleted."""
        with self._writing() as (db, _):
            signals = feedback.erase_signals_before(db, feedback_before)
            done = tickets.erase_done_before(db, tickets_done_before)
        if signals or done:
            self._compact()
        return signals, done

    def erase_messages(self, subject: str) -> int:
        """Delete the subject's messages only, keeping its key for the rows that have their own period."""
        with self._writing() as (db, _):
            deleted = conversations.erase_messages(db, subject)
        if deleted:
            self._compact()
        return deleted

    def open_tickets_before(self, cutoff: str) -> int:
        """How many tickets opened before `cutoff` are still open."""
        with self._reading() as conn:
            return tickets.open_before(conn, cutoff)

    def subjects_with_prefix(self, pseudonym: str) -> list[str]:
        """Subject ids (with rows or only a key left) that start with an audit pseudonym."""
        if not _PSEUDONYM.fullmatch(pseudonym):  # never a short or empty prefix that matches everyone
            raise ValueError(f"not a subject pseudonym: {pseudonym!r}")
        found: set[str] = set()
        for engine, column in ((self._db, SUBJECTS.c.subject_id), (self._keys, SUBJECT_KEYS.c.subject_id)):
            with self._reading(engine) as conn:
                found.update(conn.execute(sa.select(column).where(column.startswith(pseudonym))).scalars())
        return sorted(found)

    def close(self) -> None:
        """Compact and close both databases."""
        self._compact()
        self._db.dispose()
        self._keys.dispose()

    # internals ----------------------------------------------------------------------------------
    def _cipher(self, subject: str) -> SubjectCipher:
        """The subject's cipher; UnknownSubject when its key is not (or no longer) stored."""
        query = sa.select(SUBJECT_KEYS.c.wrapped).where(SUBJECT_KEYS.c.subject_id == subject)
        with self._reading(self._keys) as keys:
            row = keys.execute(query).first()
        if row is None:
            raise UnknownSubject("No stored conversation has this reference code.")
        return SubjectCipher(self._keyring.unwrap(row[0], subject), subject)

    def check(self) -> None:
        """Raise StoreError unless both databases take a write and the master key opens the keys."""
        self._check_master_key()
        with self._writing() as (db, keys):
            # A write that changes nothing: proves the files (or servers) accept writes right now.
            keys.execute(KEY_CHECK.update().where(KEY_CHECK.c.id == 1).values(sealed=KEY_CHECK.c.sealed))
            db.execute(SIGNALS.delete().where(sa.false()))

    def _check_master_key(self) -> None:
        # With another master key every subject id would differ and the store would look empty:
        # say so at start instead.
        with self._reading(self._keys) as keys:
            row = keys.execute(sa.select(KEY_CHECK.c.sealed)).first()
        if row is None:
            with self._writing() as (_, keys):
                keys.execute(KEY_CHECK.insert().values(id=1, sealed=self._keyring.wrap(b"ok", _KEY_CHECK)))
            return
        try:
            self._keyring.unwrap(row[0], _KEY_CHECK)
        except DecryptionError as exc:
            raise StoreError(
                "The master key does not open the conversation keys: it is not the key they were "
                "created with (check SUPPORT_AGENT_MASTER_KEY / master_key_file)."
            ) from exc

    def _compact(self) -> None:
        """Make deleted rows unrecoverable from the database files, not only invisible."""
        with self._lock:
            for engine, tables in ((self._db, SUBJECT_DATA), (self._keys, SUBJECT_KEYS.name)):
                try:
                    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                        if engine.dialect.name == "sqlite":
                            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                        else:
                            conn.exec_driver_sql(f"VACUUM {tables}")
                except sa.exc.SQLAlchemyError as exc:
                    raise StoreError(f"Could not compact the conversation store: {_reason(exc)}") from exc

    @contextmanager
    def _reading(self, engine: Engine | None = None) -> Iterator[Connection]:
        """A connection to `engine` (the conversations by default) for queries."""
        try:
            with (engine or self._db).connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"Could not read the conversation store: {_reason(exc)}") from exc

    @contextmanager
    def _writing(self) -> Iterator[tuple[Connection, Connection]]:
        """One transaction on each database, (conversations, keys), under the store's lock."""
        with self._lock:
            try:
                # Both commit or neither (a key committed without its rows would be harmless).
                with self._keys.begin() as keys, self._db.begin() as db:
                    yield db, keys
            except sa.exc.SQLAlchemyError as exc:
                raise StoreError(f"Could not write to the conversation store: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]
