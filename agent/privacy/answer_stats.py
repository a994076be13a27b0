"""Anonymous answer statistics for the support lead's overview: counts, never people.

One row per answered or refused question holds only the UTC day (no time of day), the outcome, the answer
time rounded to 0.1 s, the cited article's id and the answer's language; 👍/👎 are counts per day and
article, handoffs counts per day (and whether the answer before them was answered or refused). No subject,
session, reference code or text is ever written, so nothing here can be linked to a customer.

A customer who restricted processing (Art. 18) or objected to improving the help center (Art. 21) is
not counted at all. Rows are kept `statistics_retention_days` and deleted by the retention purge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent.clock import utc_now
from agent.privacy.schema import ANSWER_STATS, HANDOFF_COUNTS, RATING_COUNTS
from agent.privacy.store import ConversationStore, StoreError

OUTCOMES = ("answered", "refused")
HANDOFF_AFTER = ("answered", "refused", "none")  # what the customer saw last before asking for a human


@dataclass(frozen=True)
class AnswerRow:
    """One answered or refused question, as stored."""

    day: str
    outcome: str
    seconds: float | None
    article: str | None
    language: str


@dataclass(frozen=True)
class RatingCount:
    """👍 and 👎 given on one day to answers citing one article ("" when the answer cited none)."""

    day: str
    article: str
    up: int
    down: int


@dataclass(frozen=True)
class HandoffCount:
    """Handoffs on one day, by what the customer saw last (answered, refused or no answer yet)."""

    day: str
    after: str
    count: int


class AnswerStatistics:
    """Writes and reads the anonymous statistics in the conversation store's database."""

    def __init__(self, store: ConversationStore, clock: Callable[[], datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock

    @property
    def _db(self) -> Engine:
        return self._store.engine

    # recording ----------------------------------------------------------------------------------
    def counts(self, reference: str | None) -> bool:
        """Whether this customer is counted: not while their kept conversation is restricted or they
        objected to improving the help center (a customer who keeps nothing is counted, anonymously)."""
        if not reference:
            return True
        limits = self._store.processing_limits(reference)
        return not (limits.restricted_at or limits.objected_at)

    def record_answer(
        self,
        reference: str | None,
        *,
        refused: bool,
        seconds: float | None,
        article: str | None,
        language: str,
    ) -> None:
        """Count one answered or refused question (nothing about who asked or what)."""
        if not self.counts(reference):
            return
        row = {
            "day": self._today(),
            "outcome": "refused" if refused else "answered",
            "seconds": round(seconds, 1) if seconds is not None else None,
            "article": (article or None) and article[:200],
            "language": (language or "?")[:8],
        }
        self._write(lambda db: db.execute(ANSWER_STATS.insert().values(**row)))

    def record_rating(self, reference: str | None, article: str | None, helpful: bool) -> None:
        """Count a 👍 or 👎 on an answer citing `article` (None: it cited none)."""
        if not self.counts(reference):
            return
        key = {"day": self._today(), "article": (article or "")[:200]}
        column = "up" if helpful else "down"
        self._add(RATING_COUNTS, key, column, {"up": 0, "down": 0})

    def record_handoff(self, reference: str | None, after: str) -> None:
        """Count a handoff to a human; `after` is what the customer saw last (HANDOFF_AFTER)."""
        if not self.counts(reference):
            return
        key = {"day": self._today(), "after": after if after in HANDOFF_AFTER else "none"}
        self._add(HANDOFF_COUNTS, key, "count", {"count": 0})

    # reading ------------------------------------------------------------------------------------
    def answers(self, since: date) -> list[AnswerRow]:
        """Every counted question from `since` (a UTC day) on."""
        query = sa.select(ANSWER_STATS).where(ANSWER_STATS.c.day >= since.isoformat())
        return [AnswerRow(**row) for row in self._read(query)]

    def ratings(self, since: date) -> list[RatingCount]:
        """👍/👎 counts per day and article from `since` on."""
        query = sa.select(RATING_COUNTS).where(RATING_COUNTS.c.day >= since.isoformat())
        return [RatingCount(**row) for row in self._read(query)]

    def handoffs(self, since: date) -> list[HandoffCount]:
        """Handoff counts per day from `since` on."""
        query = sa.select(HANDOFF_COUNTS).where(HANDOFF_COUNTS.c.day >= since.isoformat())
        return [HandoffCount(**row) for row in self._read(query)]

    # retention ----------------------------------------------------------------------------------
    def purge(self, before: date) -> int:
        """Delete every row of a day before `before`; how many rows (answers and count rows)."""
        cutoff = before.isoformat()

        def delete(db: Any) -> int:
            return sum(
                db.execute(sa.delete(table).where(table.c.day < cutoff)).rowcount
                for table in (ANSWER_STATS, RATING_COUNTS, HANDOFF_COUNTS)
            )

        return self._write(delete)

    # internals ----------------------------------------------------------------------------------
    def _today(self) -> str:
        return self._clock().astimezone(UTC).date().isoformat()

    def _add(self, table: sa.Table, key: dict[str, str], column: str, zero: dict[str, int]) -> None:
        """Add one to `column` of the row with `key`, creating it (a replica may create it first)."""
        where = sa.and_(*(table.c[name] == value for name, value in key.items()))

        def bump(db: Any) -> None:
            if not db.execute(table.update().where(where).values({column: table.c[column] + 1})).rowcount:
                db.execute(table.insert().values(**key, **{**zero, column: 1}))

        try:
            self._write(bump)
        except StoreError:  # another replica inserted the same day's row in between: add to it
            self._write(bump)

    def _write(self, work: Callable[[Any], Any]) -> Any:
        try:
            with self._db.begin() as db:
                return work(db)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"Could not write the answer statistics: {_reason(exc)}") from exc

    def _read(self, query: sa.Select) -> list[dict[str, Any]]:
        try:
            with self._db.connect() as conn:
                return [dict(row) for row in conn.execute(query).mappings().all()]
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"Could not read the answer statistics: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]
