"""Subjects and their messages: consent, sealed messages, retention and counts.

Plain functions on a connection; the ConversationStore (agent.privacy.store) opens the connections and
transactions, turns database errors into StoreError and finds each subject's cipher. Message text is
sealed with the message role as its purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.clock import iso, utc_now
from agent.privacy.cipher import SubjectCipher
from agent.privacy.schema import MESSAGES, PROCESSING_LIMITS, SIGNALS, SUBJECTS, TICKETS


@dataclass(frozen=True)
class StoredMessage:
    """One decrypted message of a subject."""

    at: str
    role: str
    text: str
    id: int = 0


@dataclass(frozen=True)
class ProcessingLimits:
    """Since when a subject restricted processing or objected to the improvement purpose (None: not)."""

    restricted_at: str | None = None
    objected_at: str | None = None


def add_subject(db: Connection, subject: str, notice_version: str, at: str) -> None:
    """Record a new subject's consent (time and the privacy notice they saw)."""
    db.execute(
        SUBJECTS.insert().values(
            subject_id=subject, consent_at=at, notice_version=notice_version, last_active_at=at
        )
    )


def add_message(db: Connection, cipher: SubjectCipher, role: str, text: str, at: str) -> None:
    """Seal and store one message of the cipher's subject; the subject was active at `at`."""
    sealed = cipher.seal(text, role)
    db.execute(MESSAGES.insert().values(subject_id=cipher.subject, at=at, role=role, sealed=sealed))
    touch(db, cipher.subject, at)


def touch(db: Connection, subject: str, at: str) -> None:
    """The subject was active at `at` (its retention period starts again)."""
    db.execute(SUBJECTS.update().where(SUBJECTS.c.subject_id == subject).values(last_active_at=at))


def consent(conn: Connection, subject: str) -> tuple[str, str] | None:
    """(consent time, notice version) of a subject, None when it is not stored."""
    row = conn.execute(
        sa.select(SUBJECTS.c.consent_at, SUBJECTS.c.notice_version).where(SUBJECTS.c.subject_id == subject)
    ).first()
    return None if row is None else (row[0], row[1])


def messages(conn: Connection, cipher: SubjectCipher) -> list[StoredMessage]:
    """Every message of the cipher's subject in this database, decrypted, oldest first."""
    query = (
        sa.select(MESSAGES.c.id, MESSAGES.c.at, MESSAGES.c.role, MESSAGES.c.sealed)
        .where(MESSAGES.c.subject_id == cipher.subject)
        .order_by(MESSAGES.c.id)
    )
    return [
        StoredMessage(at, role, cipher.open(sealed, role), number)
        for number, at, role, sealed in conn.execute(query).all()
    ]


def rectify(db: Connection, cipher: SubjectCipher, message_id: int, text: str) -> bool:
    """Replace the text of one of the cipher's subject's messages; False when it has no such message."""
    mine = sa.and_(MESSAGES.c.id == message_id, MESSAGES.c.subject_id == cipher.subject)
    role = db.execute(sa.select(MESSAGES.c.role).where(mine)).scalar()
    if role is None:
        return False
    db.execute(MESSAGES.update().where(mine).values(sealed=cipher.seal(text, role)))
    return True


def processing_limits(conn: Connection, subject: str) -> ProcessingLimits:
    """The subject's restriction and objection, if any."""
    query = sa.select(PROCESSING_LIMITS.c.restricted_at, PROCESSING_LIMITS.c.objected_at).where(
        PROCESSING_LIMITS.c.subject_id == subject
    )
    row = conn.execute(query).first()
    return ProcessingLimits() if row is None else ProcessingLimits(row[0], row[1])


def set_processing_limits(db: Connection, subject: str, limits: ProcessingLimits) -> None:
    """Store the subject's restriction and objection (both None: no row)."""
    db.execute(sa.delete(PROCESSING_LIMITS).where(PROCESSING_LIMITS.c.subject_id == subject))
    if limits.restricted_at or limits.objected_at:
        db.execute(
            PROCESSING_LIMITS.insert().values(
                subject_id=subject, restricted_at=limits.restricted_at, objected_at=limits.objected_at
            )
        )


def restricted_subjects() -> sa.Select:
    """Query of the subjects whose processing is restricted (for lists shown to staff)."""
    return sa.select(PROCESSING_LIMITS.c.subject_id).where(PROCESSING_LIMITS.c.restricted_at.is_not(None))


def expired(conn: Connection, retention_days: int, now: datetime | None = None) -> list[str]:
    """Subject ids whose last activity is older than the retention period."""
    cutoff = iso((now or utc_now()) - timedelta(days=retention_days))
    query = sa.select(SUBJECTS.c.subject_id).where(SUBJECTS.c.last_active_at < cutoff)
    return [row[0] for row in conn.execute(query).all()]


def erase_messages(db: Connection, subject: str) -> int:
    """Delete the subject's messages only (its tickets and feedback have periods of their own)."""
    return db.execute(sa.delete(MESSAGES).where(MESSAGES.c.subject_id == subject)).rowcount


def holds_tickets_or_feedback(conn: Connection, subject: str) -> bool:
    """True while a ticket or a feedback signal of the subject is stored (they keep its key alive)."""
    return any(
        conn.execute(sa.select(table.c.id).where(table.c.subject_id == subject).limit(1)).first()
        for table in (SIGNALS, TICKETS)
    )


def counts(conn: Connection) -> tuple[int, int]:
    """(subjects, messages) currently stored."""
    subjects = conn.execute(sa.select(sa.func.count()).select_from(SUBJECTS)).scalar_one()
    stored = conn.execute(sa.select(sa.func.count()).select_from(MESSAGES)).scalar_one()
    return subjects, stored


def active_since(conn: Connection, at: str) -> int:
    """How many stored subjects were active (consented, wrote, handed off) at or after `at`."""
    query = sa.select(sa.func.count()).select_from(SUBJECTS).where(SUBJECTS.c.last_active_at >= at)
    return int(conn.execute(query).scalar_one())


def erase(db: Connection, subject: str) -> int:
    """Delete the subject's messages and the subject itself (after its other rows); how many messages."""
    deleted = db.execute(sa.delete(MESSAGES).where(MESSAGES.c.subject_id == subject)).rowcount
    db.execute(sa.delete(PROCESSING_LIMITS).where(PROCESSING_LIMITS.c.subject_id == subject))
    db.execute(sa.delete(SUBJECTS).where(SUBJECTS.c.subject_id == subject))
    return deleted
