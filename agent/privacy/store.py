"""Encrypted conversation store: SQLite (WAL) in the data dir by default, PostgreSQL for scale-out.

Two databases on purpose: the conversations (sealed messages) and the subject keys (each subject's data
key, wrapped by the master key). Erasing a subject deletes its key, so a backup of the conversations
taken earlier holds rows nobody can decrypt any more (crypto-shredding). After an erasure the deleted
rows are also physically removed: SQLite runs with `secure_delete` and checkpoints its WAL; PostgreSQL
vacuums the tables.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Connection, Engine

from agent.privacy.crypto import DecryptionError, Keyring, open_sealed, seal
from agent.errors import AgentError

_DATA = sa.MetaData()
SUBJECTS = sa.Table(
    "subjects",
    _DATA,
    # keyed hash of the reference code; the code itself is never stored
    sa.Column("subject_id", sa.String(64), primary_key=True),
    sa.Column("consent_at", sa.String(32), nullable=False),  # when they chose "keep my conversation"
    sa.Column("notice_version", sa.String(64), nullable=False),  # the privacy notice they saw
    sa.Column("last_active_at", sa.String(32), nullable=False, index=True),
)
MESSAGES = sa.Table(
    "messages",
    _DATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_id", sa.String(64), sa.ForeignKey("subjects.subject_id"), nullable=False, index=True),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),  # nonce || AES-GCM(redacted text), subject's key
)
# Questions the bot could not answer or that the customer rated: the support lead's to-do list. Only
# from customers who chose to keep their conversation; sealed under their key, erased with them.
SIGNALS = sa.Table(
    "signals",
    _DATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_id", sa.String(64), sa.ForeignKey("subjects.subject_id"), nullable=False, index=True),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # refused | thumbs_down | thumbs_up
    sa.Column("sealed", sa.LargeBinary, nullable=False),  # the redacted question
)
TICKETS = sa.Table(
    "tickets",
    _DATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_id", sa.String(64), sa.ForeignKey("subjects.subject_id"), nullable=False, index=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # open | done
    sa.Column("done_by", sa.String(40)),
    sa.Column("done_at", sa.String(32)),
    sa.Column("sealed_transcript", sa.LargeBinary, nullable=False),  # redacted
    sa.Column("sealed_contact", sa.LargeBinary, nullable=False),  # as the customer gave it, for the reply
)
# Aggregate counts only (no link to anyone): what the redactor removes, for the privacy officer.
REDACTION_COUNTS = sa.Table(
    "redaction_counts",
    _DATA,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
_KEYS = sa.MetaData()
SUBJECT_KEYS = sa.Table(
    "subject_keys",
    _KEYS,
    sa.Column("subject_id", sa.String(64), primary_key=True),
    sa.Column("wrapped", sa.LargeBinary, nullable=False),
)
KEY_CHECK = sa.Table(
    "key_check",
    _KEYS,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
)
_KEY_CHECK = "key-check"


class StoreError(AgentError):
    """The conversation store cannot be used (disk full, unreachable server, wrong master key)."""


class UnknownSubject(AgentError):
    """No stored data for this reference code."""


@dataclass(frozen=True)
class StoredMessage:
    """One decrypted message of a subject."""

    at: str
    role: str
    text: str


@dataclass(frozen=True)
class Signal:
    """A refused or rated question (decrypted)."""

    at: str
    kind: str
    question: str


@dataclass(frozen=True)
class Ticket:
    """A handoff to a human (decrypted)."""

    id: int
    created_at: str
    status: str
    transcript: str
    contact: str
    done_by: str | None


@dataclass(frozen=True)
class Deletion:
    """What erasing one subject removed (never the content)."""

    subject_id: str
    messages: int
    key_destroyed: bool
    feedback_rows: int = 0
    tickets: int = 0


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file (its folder is created, private)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return f"sqlite:///{path.resolve()}"


class ConversationStore:
    """Sealed conversations per subject; thread-safe."""

    def __init__(
        self, url: str, key_url: str, keyring: Keyring, connect_args: dict[str, Any] | None = None
    ) -> None:
        self._keyring = keyring
        self._lock = threading.Lock()
        try:
            self._db = _engine(url, connect_args)
            self._keys = _engine(key_url, connect_args)
            _DATA.create_all(self._db)
            _KEYS.create_all(self._keys)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"Cannot open the conversation store: {_reason(exc)}") from exc
        for engine in (self._db, self._keys):
            if engine.dialect.name == "sqlite":
                Path(engine.url.database or "").chmod(0o600)
        self._check_master_key()

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self._db.dialect.name

    def subject_id(self, reference: str) -> str:
        """The id stored for a reference code."""
        return self._keyring.subject_id(reference)

    def open_subject(self, reference: str, notice_version: str, now: datetime | None = None) -> str:
        """Record the consent of a new subject and create its data key; returns the subject id."""
        at = _iso(now)
        subject = self.subject_id(reference)
        wrapped = self._keyring.wrap(self._keyring.new_data_key(), subject)
        with self._writing() as (db, keys):
            keys.execute(SUBJECT_KEYS.insert().values(subject_id=subject, wrapped=wrapped))
            db.execute(
                SUBJECTS.insert().values(
                    subject_id=subject, consent_at=at, notice_version=notice_version, last_active_at=at
                )
            )
        return subject

    def append(self, reference: str, role: str, text: str, now: datetime | None = None) -> None:
        """Seal and store one message of the subject."""
        subject = self.subject_id(reference)
        cipher = AESGCM(self._data_key(subject))
        at = _iso(now)
        sealed = seal(cipher, text.encode(), f"{subject}|{role}".encode())
        with self._writing() as (db, _):
            db.execute(MESSAGES.insert().values(subject_id=subject, at=at, role=role, sealed=sealed))
            db.execute(SUBJECTS.update().where(SUBJECTS.c.subject_id == subject).values(last_active_at=at))

    def add_signal(self, reference: str, kind: str, question: str) -> None:
        """Remember a refused or rated (redacted) question of a consenting customer."""
        subject = self.subject_id(reference)
        sealed = seal(AESGCM(self._data_key(subject)), question.encode(), f"{subject}|{kind}".encode())
        with self._writing() as (db, _):
            db.execute(SIGNALS.insert().values(subject_id=subject, at=_iso(None), kind=kind, sealed=sealed))

    def signals(self, kinds: tuple[str, ...], subject: str | None = None) -> list[Signal]:
        """Every signal of the given kinds (of one subject, if given), newest first, decrypted."""
        query = (
            sa.select(SIGNALS.c.subject_id, SIGNALS.c.at, SIGNALS.c.kind, SIGNALS.c.sealed)
            .where(SIGNALS.c.kind.in_(kinds))
            .order_by(SIGNALS.c.id.desc())
        )
        if subject:
            query = query.where(SIGNALS.c.subject_id == subject)
        out = []
        for subject, at, kind, sealed in self._read(self._db, query).all():
            cipher = AESGCM(self._data_key(subject))
            out.append(Signal(at, kind, open_sealed(cipher, sealed, f"{subject}|{kind}".encode()).decode()))
        return out

    def add_ticket(self, reference: str, transcript: str, contact: str) -> int:
        """Open a handoff ticket for the subject; its number."""
        subject = self.subject_id(reference)
        cipher = AESGCM(self._data_key(subject))
        with self._writing() as (db, _):
            result = db.execute(
                TICKETS.insert().values(
                    subject_id=subject,
                    created_at=_iso(None),
                    status="open",
                    sealed_transcript=seal(cipher, transcript.encode(), f"{subject}|transcript".encode()),
                    sealed_contact=seal(cipher, contact.encode(), f"{subject}|contact".encode()),
                )
            )
            db.execute(
                SUBJECTS.update().where(SUBJECTS.c.subject_id == subject).values(last_active_at=_iso(None))
            )
        return int(result.inserted_primary_key[0])

    def tickets(self, status: str | None = None, subject: str | None = None) -> list[Ticket]:
        """Tickets, oldest first, decrypted (optionally only 'open' or 'done', or of one subject)."""
        query = sa.select(TICKETS).order_by(TICKETS.c.id)
        if status:
            query = query.where(TICKETS.c.status == status)
        if subject:
            query = query.where(TICKETS.c.subject_id == subject)
        out = []
        for row in self._read(self._db, query).mappings().all():
            subject = row["subject_id"]
            cipher = AESGCM(self._data_key(subject))
            out.append(
                Ticket(
                    row["id"],
                    row["created_at"],
                    row["status"],
                    open_sealed(cipher, row["sealed_transcript"], f"{subject}|transcript".encode()).decode(),
                    open_sealed(cipher, row["sealed_contact"], f"{subject}|contact".encode()).decode(),
                    row["done_by"],
                )
            )
        return out

    def close_ticket(self, ticket_id: int, by: str) -> None:
        """Mark a ticket done."""
        with self._writing() as (db, _):
            done = db.execute(
                TICKETS.update()
                .where(TICKETS.c.id == ticket_id, TICKETS.c.status == "open")
                .values(status="done", done_by=by, done_at=_iso(None))
            ).rowcount
        if not done:
            raise UnknownSubject(f"There is no open ticket {ticket_id}.")

    def count_redactions(self, found: dict[str, int]) -> None:
        """Add today's counts of redacted types (no link to any message or person)."""
        if not found:
            return
        day = _iso(None)[:10]
        with self._writing() as (db, _):
            for kind, count in found.items():
                updated = db.execute(
                    REDACTION_COUNTS.update()
                    .where(REDACTION_COUNTS.c.day == day, REDACTION_COUNTS.c.kind == kind)
                    .values(count=REDACTION_COUNTS.c.count + count)
                ).rowcount
                if not updated:
                    db.execute(REDACTION_COUNTS.insert().values(day=day, kind=kind, count=count))

    def redaction_counts(self) -> list[tuple[str, str, int]]:
        """(day, type, count), newest day first."""
        query = sa.select(REDACTION_COUNTS).order_by(REDACTION_COUNTS.c.day.desc(), REDACTION_COUNTS.c.kind)
        return [tuple(row) for row in self._read(self._db, query).all()]  # type: ignore[misc]

    @property
    def engine(self) -> Engine:
        """The conversations database (staff accounts live there too)."""
        return self._db

    def consent(self, reference: str) -> tuple[str, str]:
        """(consent time, notice version) of a subject."""
        query = sa.select(SUBJECTS.c.consent_at, SUBJECTS.c.notice_version).where(
            SUBJECTS.c.subject_id == self.subject_id(reference)
        )
        row = self._read(self._db, query).first()
        if row is None:
            raise UnknownSubject("No stored conversation has this reference code.")
        return row[0], row[1]

    def messages(self, reference: str) -> list[StoredMessage]:
        """Every message of a subject, decrypted, oldest first."""
        self.consent(reference)  # raises UnknownSubject
        return self.read_sealed(self._db, self.subject_id(reference))

    def read_sealed(self, db: Engine, subject: str) -> list[StoredMessage]:
        """Decrypt a subject's rows from `db` (this store or a backup of it) with the current key store."""
        cipher = AESGCM(self._data_key(subject))
        query = (
            sa.select(MESSAGES.c.at, MESSAGES.c.role, MESSAGES.c.sealed)
            .where(MESSAGES.c.subject_id == subject)
            .order_by(MESSAGES.c.id)
        )
        return [
            StoredMessage(at, role, open_sealed(cipher, sealed, f"{subject}|{role}".encode()).decode())
            for at, role, sealed in self._read(db, query).all()
        ]

    def erase(self, subject: str) -> Deletion:
        """Delete the subject's rows and destroy its key, then remove the dead rows physically."""
        with self._writing() as (db, keys):
            count = db.execute(sa.delete(MESSAGES).where(MESSAGES.c.subject_id == subject)).rowcount
            signals = db.execute(sa.delete(SIGNALS).where(SIGNALS.c.subject_id == subject)).rowcount
            tickets = db.execute(sa.delete(TICKETS).where(TICKETS.c.subject_id == subject)).rowcount
            db.execute(sa.delete(SUBJECTS).where(SUBJECTS.c.subject_id == subject))
            destroyed = keys.execute(
                sa.delete(SUBJECT_KEYS).where(SUBJECT_KEYS.c.subject_id == subject)
            ).rowcount
        self._compact()
        return Deletion(subject, count, bool(destroyed), signals, tickets)

    def expired(self, retention_days: int, now: datetime | None = None) -> list[str]:
        """Subject ids whose last message is older than the retention period."""
        cutoff = _iso((now or datetime.now(UTC)) - timedelta(days=retention_days))
        query = sa.select(SUBJECTS.c.subject_id).where(SUBJECTS.c.last_active_at < cutoff)
        return [row[0] for row in self._read(self._db, query).all()]

    def counts(self) -> tuple[int, int]:
        """(subjects, messages) currently stored."""
        subjects = self._read(self._db, sa.select(sa.func.count()).select_from(SUBJECTS)).scalar_one()
        messages = self._read(self._db, sa.select(sa.func.count()).select_from(MESSAGES)).scalar_one()
        return subjects, messages

    def close(self) -> None:
        """Compact and close both databases."""
        self._compact()
        self._db.dispose()
        self._keys.dispose()

    def _data_key(self, subject: str) -> bytes:
        query = sa.select(SUBJECT_KEYS.c.wrapped).where(SUBJECT_KEYS.c.subject_id == subject)
        row = self._read(self._keys, query).first()
        if row is None:
            raise UnknownSubject("No stored conversation has this reference code.")
        return self._keyring.unwrap(row[0], subject)

    def _check_master_key(self) -> None:
        # With another master key every subject id would differ and the store would look empty:
        # say so at start instead.
        row = self._read(self._keys, sa.select(KEY_CHECK.c.sealed)).first()
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
            for engine, tables in (
                (self._db, "messages, signals, tickets, subjects"),
                (self._keys, "subject_keys"),
            ):
                try:
                    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                        if engine.dialect.name == "sqlite":
                            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                        else:
                            conn.exec_driver_sql(f"VACUUM {tables}")
                except sa.exc.SQLAlchemyError as exc:
                    raise StoreError(f"Could not compact the conversation store: {_reason(exc)}") from exc

    def _read(self, engine: Engine, query: sa.Executable) -> sa.Result[Any]:
        try:
            with engine.connect() as conn:
                return conn.execute(query).freeze()()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"Could not read the conversation store: {_reason(exc)}") from exc

    @contextmanager
    def _writing(self) -> Iterator[tuple[Connection, Connection]]:
        with self._lock:
            try:
                # Both commit or neither (a key committed without its rows would be harmless).
                with self._keys.begin() as keys, self._db.begin() as db:
                    yield db, keys
            except sa.exc.SQLAlchemyError as exc:
                raise StoreError(f"Could not write to the conversation store: {_reason(exc)}") from exc


def _engine(url: str, connect_args: dict[str, Any] | None) -> Engine:
    engine = sa.create_engine(url, connect_args=connect_args or {}, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten with zeros
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]


def _iso(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
