"""Feedback for the support lead and the privacy officer: signals and redaction counts.

Signals are questions the bot refused or a customer rated (only from customers who chose to keep their
conversation), sealed under the subject's key with the signal kind as purpose and erased with them.
Redaction counts are aggregates per day and type, linked to no message or person. Plain functions on a
connection; the ConversationStore runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.privacy.cipher import SubjectCipher
from agent.privacy.conversations import restricted_subjects
from agent.privacy.schema import REDACTION_COUNTS, SIGNALS


@dataclass(frozen=True)
class Signal:
    """A refused or rated question (decrypted)."""

    at: str
    kind: str
    question: str


def add_signal(db: Connection, cipher: SubjectCipher, kind: str, question: str, at: str) -> None:
    """Remember a refused or rated (redacted) question of the cipher's subject."""
    sealed = cipher.seal(question, kind)
    db.execute(SIGNALS.insert().values(subject_id=cipher.subject, at=at, kind=kind, sealed=sealed))


def signals(
    conn: Connection,
    cipher_for: Callable[[str], SubjectCipher],
    kinds: tuple[str, ...],
    subject: str | None = None,
) -> list[Signal]:
    """Every signal of the given kinds (of one subject, if given, else of every unrestricted subject),
    newest first, decrypted."""
    query = (
        sa.select(SIGNALS.c.subject_id, SIGNALS.c.at, SIGNALS.c.kind, SIGNALS.c.sealed)
        .where(SIGNALS.c.kind.in_(kinds))
        .order_by(SIGNALS.c.id.desc())
    )
    if subject:
        query = query.where(SIGNALS.c.subject_id == subject)
    else:  # the support lead's lists: never from a subject who restricted processing
        query = query.where(SIGNALS.c.subject_id.not_in(restricted_subjects()))
    return [
        Signal(at, kind, cipher_for(owner).open(sealed, kind))
        for owner, at, kind, sealed in conn.execute(query).all()
    ]


def erase_signals(db: Connection, subject: str) -> int:
    """Delete the subject's signals; how many."""
    return db.execute(sa.delete(SIGNALS).where(SIGNALS.c.subject_id == subject)).rowcount


def erase_signals_before(db: Connection, cutoff: str) -> int:
    """Delete every signal given before `cutoff` (ISO time); how many."""
    return db.execute(sa.delete(SIGNALS).where(SIGNALS.c.at < cutoff)).rowcount


def count_redactions(db: Connection, day: str, found: dict[str, int]) -> None:
    """Add counts of redacted types to the day's totals."""
    for kind, count in found.items():
        updated = db.execute(
            REDACTION_COUNTS.update()
            .where(REDACTION_COUNTS.c.day == day, REDACTION_COUNTS.c.kind == kind)
            .values(count=REDACTION_COUNTS.c.count + count)
        ).rowcount
        if not updated:
            db.execute(REDACTION_COUNTS.insert().values(day=day, kind=kind, count=count))


def redaction_counts(conn: Connection) -> list[tuple[str, str, int]]:
    """(day, type, count), newest day first."""
    query = sa.select(REDACTION_COUNTS).order_by(REDACTION_COUNTS.c.day.desc(), REDACTION_COUNTS.c.kind)
    return [(day, kind, count) for day, kind, count in conn.execute(query).all()]
