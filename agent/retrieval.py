"""Question + scope → ranked, deduplicated sources from the customer-visible part of the index."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.embeddings import Embedder


@dataclass(frozen=True)
class Scope:
    """What customers may get answers from. Empty lists mean 'all'."""

    collections: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    def where(self) -> dict[str, Any]:
        """Chroma filter: only published public articles, inside the configured scope."""
        clauses: list[dict[str, Any]] = [{"audience": "public"}, {"status": "published"}]
        if self.collections:
            clauses.append({"collection": {"$in": list(self.collections)}})
        if self.languages:
            clauses.append({"language": {"$in": list(self.languages)}})
        return {"$and": clauses}

    def allows(self, meta: dict[str, Any]) -> bool:
        """The same rule in Python: a second lock in case a filter is ever lost on the way."""
        return (
            meta.get("audience") == "public"
            and meta.get("status") == "published"
            and (not self.collections or meta.get("collection") in self.collections)
            and (not self.languages or meta.get("language") in self.languages)
        )


@dataclass
class Source:
    """One article found for a question, with its best passages."""

    article_id: str
    title: str
    url: str
    language: str
    collection: str
    score: float  # relevance of the best passage, 0..1 (cosine similarity)
    passages: list[str] = field(default_factory=list)


class Retriever:
    """Dense retrieval over a Chroma collection with article-level dedup."""

    def __init__(self, collection: Any, embedder: Embedder, scope: Scope, *, top_k: int = 4) -> None:
        self._collection = collection
        self._embedder = embedder
        self._scope = scope
        self._top_k = top_k

    def search(self, question: str, *, top_k: int | None = None) -> list[Source]:
        """Best articles for a question, most relevant first (at most top_k, two passages each)."""
        k = top_k or self._top_k
        vector = self._embedder.embed_query(question)
        result = self._collection.query(
            query_embeddings=[vector],
            n_results=max(k * 5, 10),
            where=self._scope.where(),
            include=["documents", "metadatas", "distances"],
        )
        sources: dict[str, Source] = {}
        for doc, meta, dist in zip(
            result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
        ):
            if not self._scope.allows(meta):
                continue
            article_id = str(meta["article_id"])
            score = max(0.0, 1.0 - float(dist))
            source = sources.get(article_id)
            if source is None:
                source = sources[article_id] = Source(
                    article_id=article_id,
                    title=str(meta["title"]),
                    url=str(meta.get("url") or ""),
                    language=str(meta["language"]),
                    collection=str(meta["collection"]),
                    score=score,
                )
            if len(source.passages) < 2:
                source.passages.append(_with_heading(doc, meta))
        ranked = sorted(sources.values(), key=lambda s: s.score, reverse=True)
        return ranked[:k]


def _with_heading(text: str, meta: dict[str, Any]) -> str:
    heading = str(meta.get("heading_path") or "")
    return f"[{heading}]\n{text}" if heading else text
