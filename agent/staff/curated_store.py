"""The curated answers' rows in the conversation store's database (SQLite or PostgreSQL, shared by
every replica): read, add, edit, remove, and count uses. Errors become StoreError."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from agent.answering.curated import CuratedAnswer
from agent.clock import iso
from agent.privacy.schema import CURATED_ANSWERS
from agent.privacy.store import StoreError

_TABLE = CURATED_ANSWERS


class CuratedAnswerStore:
    """Curated answers in the conversations database (the table is created with the store's)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def fingerprint(self) -> tuple[int, int, int]:
        """(count, sum of ids, sum of revisions): changes with every add, edit or removal."""
        query = sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(_TABLE.c.id), 0),
            sa.func.coalesce(sa.func.sum(_TABLE.c.revision), 0),
        )
        with self._reading() as conn:
            count, ids, revisions = conn.execute(query).one()
        return int(count), int(ids), int(revisions)

    def answers(self) -> list[CuratedAnswer]:
        """Every curated answer, oldest first."""
        with self._reading() as conn:
            return [_answer(row) for row in conn.execute(sa.select(_TABLE).order_by(_TABLE.c.id)).mappings()]

    def get(self, answer_id: int) -> CuratedAnswer | None:
        """One answer, or None."""
        with self._reading() as conn:
            row = conn.execute(sa.select(_TABLE).where(_TABLE.c.id == answer_id)).mappings().first()
        return _answer(row) if row else None

    def add(
        self,
        questions: list[str],
        answer: str,
        language: str,
        article_id: str,
        author: str,
        active: bool = True,
    ) -> int:
        """Store a new answer; its id."""
        now = iso()
        values = _values(questions, answer, language, article_id, author, active)
        with self._writing() as conn:
            result = conn.execute(
                _TABLE.insert().values(**values, created_at=now, updated_at=now, revision=1, uses=0)
            )
            return int(result.inserted_primary_key[0])

    def update(
        self,
        answer_id: int,
        questions: list[str],
        answer: str,
        language: str,
        article_id: str,
        author: str,
        active: bool = True,
    ) -> bool:
        """Replace an answer's texts, language, article and state; False when there is no such answer."""
        values = _values(questions, answer, language, article_id, author, active)
        with self._writing() as conn:
            return bool(
                conn.execute(
                    _TABLE.update()
                    .where(_TABLE.c.id == answer_id)
                    .values(**values, updated_at=iso(), revision=_TABLE.c.revision + 1)
                ).rowcount
            )

    def remove(self, answer_id: int) -> bool:
        """Delete an answer; False when there is no such answer."""
        with self._writing() as conn:
            return bool(conn.execute(_TABLE.delete().where(_TABLE.c.id == answer_id)).rowcount)

    def count_use(self, answer_id: int) -> None:
        """Count one customer who got this answer."""
        with self._writing() as conn:
            conn.execute(_TABLE.update().where(_TABLE.c.id == answer_id).values(uses=_TABLE.c.uses + 1))

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"Could not read the curated answers: {_reason(exc)}") from exc

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"Could not write the curated answers: {_reason(exc)}") from exc


def _values(
    questions: list[str], answer: str, language: str, article_id: str, author: str, active: bool
) -> dict[str, object]:
    return {
        "questions": json.dumps(questions, ensure_ascii=False),
        "answer": answer,
        "language": language,
        "article_id": article_id,
        "author": author,
        "active": active,
    }


def _answer(row: sa.RowMapping) -> CuratedAnswer:
    return CuratedAnswer(
        id=int(row["id"]),
        questions=tuple(json.loads(row["questions"])),
        answer=row["answer"],
        language=row["language"],
        article_id=row["article_id"],
        author=row["author"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        active=bool(row["active"]),
        revision=int(row["revision"]),
        uses=int(row["uses"]),
    )


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]
