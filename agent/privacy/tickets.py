"""Handoff tickets: a conversation handed to a human, with the contact the customer left for the reply.

Plain functions on a connection (the ConversationStore runs them in its transactions). The transcript
(redacted) and the contact (as given) are sealed under the subject's key, purposes "transcript" and
"contact"; a ticket is erased with its subject, or by the retention purge a set time after it was done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.privacy.cipher import SubjectCipher
from agent.privacy.conversations import restricted_subjects
from agent.privacy.schema import TICKETS


@dataclass(frozen=True)
class Ticket:
    """A handoff to a human (decrypted)."""

    id: int
    created_at: str
    status: str
    transcript: str
    contact: str
    done_by: str | None


def add(db: Connection, cipher: SubjectCipher, transcript: str, contact: str, at: str) -> int:
    """Open a ticket for the cipher's subject; its number."""
    result = db.execute(
        TICKETS.insert().values(
            subject_id=cipher.subject,
            created_at=at,
            status="open",
            sealed_transcript=cipher.seal(transcript, "transcript"),
            sealed_contact=cipher.seal(contact, "contact"),
        )
    )
    return int(result.inserted_primary_key[0])


def read(
    conn: Connection,
    cipher_for: Callable[[str], SubjectCipher],
    status: str | None = None,
    subject: str | None = None,
) -> list[Ticket]:
    """Tickets, oldest first, decrypted (optionally only 'open' or 'done'); of one subject, if given, else
    of every subject who did not restrict processing (the support lead's inbox)."""
    query = sa.select(TICKETS).order_by(TICKETS.c.id)
    if status:
        query = query.where(TICKETS.c.status == status)
    if subject:
        query = query.where(TICKETS.c.subject_id == subject)
    else:
        query = query.where(TICKETS.c.subject_id.not_in(restricted_subjects()))
    out = []
    for row in conn.execute(query).mappings().all():
        cipher = cipher_for(row["subject_id"])
        out.append(
            Ticket(
                row["id"],
                row["created_at"],
                row["status"],
                cipher.open(row["sealed_transcript"], "transcript"),
                cipher.open(row["sealed_contact"], "contact"),
                row["done_by"],
            )
        )
    return out


def rectify_contact(db: Connection, cipher: SubjectCipher, ticket_id: int, contact: str) -> bool:
    """Replace the contact of one of the cipher's subject's tickets; False when it has no such ticket."""
    mine = sa.and_(TICKETS.c.id == ticket_id, TICKETS.c.subject_id == cipher.subject)
    updated = db.execute(TICKETS.update().where(mine).values(sealed_contact=cipher.seal(contact, "contact")))
    return bool(updated.rowcount)


def close(db: Connection, ticket_id: int, by: str, at: str) -> bool:
    """Mark an open ticket done; False when there is no such open ticket."""
    done = db.execute(
        TICKETS.update()
        .where(TICKETS.c.id == ticket_id, TICKETS.c.status == "open")
        .values(status="done", done_by=by, done_at=at)
    ).rowcount
    return bool(done)


def erase_done_before(db: Connection, cutoff: str) -> int:
    """Delete the tickets marked done before `cutoff` (ISO time); how many. Open tickets stay."""
    query = sa.delete(TICKETS).where(TICKETS.c.status == "done", TICKETS.c.done_at < cutoff)
    return db.execute(query).rowcount


def open_before(conn: Connection, cutoff: str) -> int:
    """How many tickets opened before `cutoff` are still open (kept until done; reported by the purge)."""
    query = sa.select(sa.func.count()).where(TICKETS.c.status == "open", TICKETS.c.created_at < cutoff)
    return int(conn.execute(query).scalar_one())


def erase(db: Connection, subject: str) -> int:
    """Delete the subject's tickets; how many."""
    return db.execute(sa.delete(TICKETS).where(TICKETS.c.subject_id == subject)).rowcount
