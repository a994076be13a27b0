"""Curated answers in the answer path: a support lead's approved text for a kind of question, shown
verbatim (with the article it rests on) when a customer's question is close enough to one of its
wordings – no model call, so no grounding guard either: the text was approved by a person.

The answers themselves live in the conversation store (agent.staff.curated_store), shared by every
replica; `CuratedMatcher` keeps their wordings' embeddings in memory and reloads them when the store's
fingerprint changes (one small query per question).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from agent.errors import AgentError
from agent.knowledge.embeddings import Embedder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CuratedAnswer:
    """An answer a support lead wrote or approved, and the question wordings it answers."""

    id: int
    questions: tuple[str, ...]
    answer: str
    language: str
    article_id: str
    author: str
    created_at: str
    updated_at: str
    active: bool = True
    revision: int = 1
    uses: int = 0


class CuratedSource(Protocol):
    """Where curated answers are read from (the conversation store)."""

    def fingerprint(self) -> Hashable:
        """Changes whenever an answer is added, edited or removed."""
        ...

    def answers(self) -> list[CuratedAnswer]:
        """Every curated answer."""
        ...

    def count_use(self, answer_id: int) -> None:
        """Count one customer who got this answer."""
        ...


@dataclass(frozen=True)
class CuratedMatch:
    """A curated answer for a question, the metadata of its (customer-visible) article, the similarity."""

    answer: CuratedAnswer
    article: dict[str, Any]
    similarity: float


class CuratedMatcher:
    """Finds the curated answer for a question: same language, cosine of the query embeddings at least
    `min_similarity` to one of its wordings, switched on, and its article still customer-visible."""

    def __init__(
        self,
        source: Callable[[], CuratedSource],
        embedder: Embedder,
        min_similarity: float,
        *,
        count_uses: bool = True,
    ) -> None:
        self._source = source  # called on first use: `ask` opens the store only when a question comes
        self._embedder = embedder
        self.min_similarity = min_similarity
        self._count_uses = count_uses  # off for simulations: they are not customers
        self._lock = threading.Lock()
        self._fingerprint: Hashable = None
        self._loaded: list[tuple[CuratedAnswer, np.ndarray]] = []
        self._vectors: dict[tuple[int, int], np.ndarray] = {}  # (id, revision) → wordings' embeddings

    def match(
        self, vector: list[float], language: str, article: Callable[[str], dict[str, Any] | None]
    ) -> CuratedMatch | None:
        """The best curated answer for a question's embedding, or None (also when the store cannot be
        read: the question then goes the normal way). `article` gives a customer-visible article's
        metadata, or None."""
        try:
            for similarity, answer in self.similarities(vector, language):
                if similarity < self.min_similarity:
                    break  # highest first: none of the rest is close enough either
                meta = article(answer.article_id)
                if meta is None:
                    continue  # its article was removed, unpublished or left the scope: inactive
                if self._count_uses:
                    self._source().count_use(answer.id)
                return CuratedMatch(answer, meta, similarity)
        except AgentError as exc:  # never the question in the log
            log.error("curated answers unavailable: %s", type(exc).__name__)
        return None

    def similarities(self, vector: list[float], language: str) -> list[tuple[float, CuratedAnswer]]:
        """Every switched-on answer of the language with its best similarity, highest first."""
        query = np.asarray(vector, dtype=np.float32)
        query /= np.linalg.norm(query) + 1e-9
        with self._lock:
            self._refresh()
            loaded = list(self._loaded)
        scored = [
            (float((vectors @ query).max()), answer)
            for answer, vectors in loaded
            if answer.language == language and answer.active and len(vectors)
        ]
        return sorted(scored, key=lambda pair: -pair[0])

    def _refresh(self) -> None:
        """Reload the answers (embedding only new or edited wordings) when the store changed."""
        source = self._source()
        fingerprint = source.fingerprint()
        if fingerprint == self._fingerprint:
            return
        answers = source.answers()
        vectors = {}
        for answer in answers:
            key = (answer.id, answer.revision)
            vectors[key] = self._vectors.get(key)
            if vectors[key] is None:
                embedded = np.asarray(
                    [self._embedder.embed_query(q) for q in answer.questions], dtype=np.float32
                ).reshape(len(answer.questions), -1)
                embedded /= np.linalg.norm(embedded, axis=1, keepdims=True) + 1e-9
                vectors[key] = embedded
        self._vectors = vectors
        self._loaded = [(a, vectors[(a.id, a.revision)]) for a in answers]
        self._fingerprint = fingerprint
