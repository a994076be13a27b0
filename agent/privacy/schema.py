"""Layout of the conversation store: its tables, and engines opened the same way for every database.

Two databases on purpose: the conversations (sealed messages, feedback signals, tickets, aggregate
redaction counts) and the subject keys (each subject's data key, wrapped by the master key), so that
destroying a key makes every copy of that subject's rows unreadable. Times are ISO text (agent.clock).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

DATA_TABLES = sa.MetaData()
SUBJECTS = sa.Table(
    "subjects",
    DATA_TABLES,
    # keyed hash of the reference code; the code itself is never stored
    sa.Column("subject_id", sa.String(64), primary_key=True),
    sa.Column("consent_at", sa.String(32), nullable=False),  # when they chose "keep my conversation"
    sa.Column("notice_version", sa.String(64), nullable=False),  # the privacy notice they saw
    sa.Column("last_active_at", sa.String(32), nullable=False, index=True),
)
MESSAGES = sa.Table(
    "messages",
    DATA_TABLES,
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
    DATA_TABLES,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_id", sa.String(64), sa.ForeignKey("subjects.subject_id"), nullable=False, index=True),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # refused | thumbs_down | thumbs_up
    sa.Column("sealed", sa.LargeBinary, nullable=False),  # the redacted question
)
TICKETS = sa.Table(
    "tickets",
    DATA_TABLES,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_id", sa.String(64), sa.ForeignKey("subjects.subject_id"), nullable=False, index=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # open | done
    sa.Column("done_by", sa.String(40)),
    sa.Column("done_at", sa.String(32)),
    sa.Column("sealed_transcript", sa.LargeBinary, nullable=False),  # redacted
    sa.Column("sealed_contact", sa.LargeBinary, nullable=False),  # as the customer gave it, for the reply
)
# A subject's limits on processing: restriction (Art. 18: kept, sealed, used for nothing, hidden from
# support leads) and objection to the "improve the help center" purpose (Art. 21: no feedback signals).
PROCESSING_LIMITS = sa.Table(
    "processing_limits",
    DATA_TABLES,
    sa.Column("subject_id", sa.String(64), sa.ForeignKey("subjects.subject_id"), primary_key=True),
    sa.Column("restricted_at", sa.String(32)),
    sa.Column("objected_at", sa.String(32)),
)
# Aggregate counts only (no link to anyone): what the redactor removes, for the privacy officer.
REDACTION_COUNTS = sa.Table(
    "redaction_counts",
    DATA_TABLES,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
# Answer statistics for the support lead's overview (agent.privacy.answer_stats): anonymous rows and
# counts – the UTC day, never a time of day, a subject, a session or any text.
ANSWER_STATS = sa.Table(
    "answer_stats",
    DATA_TABLES,
    sa.Column("day", sa.String(10), nullable=False, index=True),
    sa.Column("outcome", sa.String(16), nullable=False),  # answered | refused
    sa.Column("seconds", sa.Float),  # answer time, rounded to 0.1 s
    sa.Column("article", sa.String(200)),  # the cited article's id, if any
    sa.Column("language", sa.String(8), nullable=False),
)
RATING_COUNTS = sa.Table(
    "rating_counts",
    DATA_TABLES,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("article", sa.String(200), primary_key=True),  # "" when the answer cited none
    sa.Column("up", sa.Integer, nullable=False),
    sa.Column("down", sa.Integer, nullable=False),
)
HANDOFF_COUNTS = sa.Table(
    "handoff_counts",
    DATA_TABLES,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("after", sa.String(16), primary_key=True),  # the answer before it: answered | refused | none
    sa.Column("count", sa.Integer, nullable=False),
)
# Answers a support lead wrote for questions the bot refused or answered badly: staff content, no
# personal data (redaction must leave the texts unchanged before they are saved). Shown to customers
# verbatim when a question is close enough to one of `questions` (agent.answering.curated).
CURATED_ANSWERS = sa.Table(
    "curated_answers",
    DATA_TABLES,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("questions", sa.Text, nullable=False),  # JSON list of the wordings it answers
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("article_id", sa.String(200), nullable=False),  # the article it rests on (cited)
    sa.Column("author", sa.String(40), nullable=False),  # staff user name of the last save
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),  # switched on by the support lead
    sa.Column("revision", sa.Integer, nullable=False),  # +1 per save: replicas see edits at once
    sa.Column("uses", sa.Integer, nullable=False),  # how often customers got it (a count only)
)
# Every table that holds a subject's rows (compacted after an erasure).
SUBJECT_DATA = ", ".join(t.name for t in (MESSAGES, SIGNALS, TICKETS, PROCESSING_LIMITS, SUBJECTS))

KEY_TABLES = sa.MetaData()
SUBJECT_KEYS = sa.Table(
    "subject_keys",
    KEY_TABLES,
    sa.Column("subject_id", sa.String(64), primary_key=True),
    sa.Column("wrapped", sa.LargeBinary, nullable=False),
)
KEY_CHECK = sa.Table(
    "key_check",
    KEY_TABLES,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file (its folder is created, private)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return f"sqlite:///{path.resolve()}"


def open_database(url: str, tables: sa.MetaData, connect_args: dict[str, Any] | None = None) -> Engine:
    """An engine on `url` with `tables` created; SQLAlchemyError when the database cannot be reached.

    SQLite runs in WAL mode with `secure_delete` (deleted rows are overwritten with zeros), foreign keys
    on and a generous busy timeout; its file is made readable by this user only.
    """
    engine = sa.create_engine(url, connect_args=connect_args or {}, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    tables.create_all(engine)
    if engine.dialect.name == "sqlite":
        Path(engine.url.database or "").chmod(0o600)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten with zeros
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
