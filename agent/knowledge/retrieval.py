"""Question + scope → ranked, deduplicated sources: dense (Chroma) and BM25 hits fused by reciprocal rank."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.knowledge.embeddings import Embedder
from agent.knowledge.lexical import LexicalIndex


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
    score: float  # relevance: cosine similarity of the best passage to the question, 0..1
    passages: list[str] = field(default_factory=list)
    lexical: float = 0.0  # BM25 score of the best passage (0 = no query word in the article)
    fused: float = 0.0  # reciprocal-rank-fusion score that orders the sources
    dense_rank: int | None = None  # 0 = the article dense search ranks first; None = not among its hits
    lexical_rank: int | None = None  # the same for BM25
    generated_rank: int | None = None  # the same for the generated questions (best question per article)

    def ranked_within(self, places: int) -> int:
        """How many of the rankings (dense, BM25, generated questions) put this article in their first
        `places`."""
        ranks = (self.dense_rank, self.lexical_rank, self.generated_rank)
        return sum(rank is not None and rank < places for rank in ranks)

    @property
    def agreed_best(self) -> bool:
        """Two rankings put it at the top (dense first, BM25 first or second, generated questions first)."""
        votes = (
            self.dense_rank == 0,
            self.lexical_rank is not None and self.lexical_rank <= 1,
            self.generated_rank == 0,
        )
        return sum(votes) >= 2

    @property
    def first_everywhere(self) -> bool:
        """Dense search and BM25 rank it first, and so do the generated questions where there are any."""
        return self.dense_rank == 0 and self.lexical_rank == 0 and self.generated_rank in (0, None)


@dataclass(frozen=True)
class _Hit:
    doc: str
    meta: dict[str, Any]
    dense: float | None = None
    lexical: float = 0.0


class Retriever:
    """Hybrid retrieval over the customer-visible passages in scope, deduplicated to articles.

    Dense search runs inside Chroma with the scope as its filter; the BM25 index is built from the same
    filtered passages, so internal, draft or out-of-scope articles are never candidates in either list.
    """

    def __init__(
        self,
        collection: Any,
        embedder: Embedder,
        scope: Scope,
        *,
        top_k: int = 4,
        candidates: int = 40,
        rrf_k: int = 5,
        lexical_weight: float = 0.5,
        split_compounds: bool = True,
        questions: Any = None,
        generated_weight: float = 0.0,
    ) -> None:
        self._collection = collection
        self._embedder = embedder
        self._scope = scope
        self._top_k = top_k
        self._candidates = candidates
        self._rrf_k = rrf_k
        self._weights = {"dense": 1.0, "lexical": lexical_weight, "generated": generated_weight}
        self._questions = questions if generated_weight > 0 else None  # the generated-questions collection
        self._split_compounds = split_compounds
        self._lexical: LexicalIndex | None = None
        self._lexical_passages: list[_Hit] = []
        self._lexical_count = -1

    @property
    def embedder(self) -> Embedder:
        """The embedding model of the index."""
        return self._embedder

    @property
    def scope(self) -> Scope:
        """What customers may get answers from."""
        return self._scope

    def indexed_article(self, article_id: str) -> dict[str, Any] | None:
        """The index metadata of an article (any audience or status); None when it is not indexed."""
        found = self._collection.get(where={"article_id": article_id}, limit=1, include=["metadatas"])
        return dict(found["metadatas"][0]) if found["metadatas"] else None

    def customer_article(self, article_id: str) -> dict[str, Any] | None:
        """The index metadata of an article customers may be shown (published, public, in scope)."""
        meta = self.indexed_article(article_id)
        return meta if meta is not None and self._scope.allows(meta) else None

    def customer_articles(self) -> list[dict[str, Any]]:
        """One metadata entry per article customers may be shown, by title."""
        stored = self._collection.get(where=self._scope.where(), include=["metadatas"])
        found: dict[str, dict[str, Any]] = {}
        for meta in stored["metadatas"]:
            if self._scope.allows(meta):
                found.setdefault(str(meta["article_id"]), dict(meta))
        return sorted(found.values(), key=lambda m: (str(m["title"]).lower(), str(m["article_id"])))

    def article_passages(self, article_id: str, max_chars: int | None = None) -> list[str]:
        """An article's customer-visible passages in their order (none when there are none), cut where
        their text, joined by blank lines, reaches `max_chars` – at the end of the last whole sentence or
        line before it, so no phone number, price or date is cut in two (measured: a passage ending in
        "… oder +49 30" made "Die Telefonnummer … ist +49 30." look supported).

        The same text for every customer, so the model's state after reading it can be kept."""
        found = self._collection.get(where={"article_id": article_id}, include=["documents", "metadatas"])
        parts = [
            (int(meta.get("position") or 0), doc)
            for doc, meta in zip(found["documents"] or [], found["metadatas"] or [], strict=True)
            if self._scope.allows(meta)
        ]
        passages = [doc for _, doc in sorted(parts, key=lambda part: part[0])]
        if max_chars is None:
            return passages
        kept: list[str] = []
        used = 0
        for passage in passages:
            room = max_chars - used - (2 if kept else 0)  # the blank line before it
            if room <= 0:
                break
            if len(passage) > room:
                if cut := whole_sentences(passage[:room]):
                    kept.append(cut)
                break
            kept.append(passage)
            used = len("\n\n".join(kept))
        return kept

    def passage_count(self) -> int:
        """Passages in the index (all audiences): 0 means nothing was indexed yet."""
        return int(self._collection.count())

    def warm(self) -> None:
        """Build the BM25 side now (at start), not on the first customer's question."""
        self._lexical_index()

    def refresh(self) -> None:
        """Rebuild the BM25 side on the next search (after a reindex changed passages)."""
        self._lexical = None

    def search(
        self, question: str, *, top_k: int | None = None, vector: list[float] | None = None
    ) -> list[Source]:
        """Best articles for a question, most relevant first (at most top_k), with their best passages.

        `vector`: the question's embedding when the caller computed it already."""
        k = top_k or self._top_k
        vector = vector if vector is not None else self._embedder.embed_query(question)
        dense = self._dense_hits(vector)
        lexical = self._lexical_hits(question)
        floor = min((h.dense or 0.0 for h in dense), default=0.0)
        return self._fuse(dense, lexical, floor, self._generated_ranking(vector))[:k]

    def _dense_hits(self, vector: list[float]) -> list[_Hit]:
        result = self._collection.query(
            query_embeddings=[vector],
            n_results=self._candidates,
            where=self._scope.where(),
            include=["documents", "metadatas", "distances"],
        )
        return [
            _Hit(doc, meta, dense=max(0.0, 1.0 - float(dist)))
            for doc, meta, dist in zip(
                result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
            if self._scope.allows(meta)
        ]

    def _generated_ranking(self, vector: list[float]) -> list[str]:
        """Article ids by the cosine of their best generated question to the customer's question."""
        if self._questions is None:  # an empty collection simply returns no hits
            return []
        result = self._questions.query(
            query_embeddings=[vector],
            n_results=self._candidates,
            where=self._scope.where(),
            include=["metadatas", "distances"],
        )
        best: dict[str, float] = {}
        for meta, dist in zip(result["metadatas"][0], result["distances"][0], strict=True):
            if self._scope.allows(meta):
                article_id = str(meta["article_id"])
                best[article_id] = max(best.get(article_id, -1.0), 1.0 - float(dist))
        return sorted(best, key=best.__getitem__, reverse=True)

    def _lexical_hits(self, question: str) -> list[_Hit]:
        index = self._lexical_index()
        scores = index.scores(question)
        best = scores.argsort()[::-1][: self._candidates]
        return [
            _Hit(self._lexical_passages[i].doc, self._lexical_passages[i].meta, lexical=float(scores[i]))
            for i in best
            if scores[i] > 0
        ]

    def _lexical_index(self) -> LexicalIndex:
        count = self._collection.count()
        if self._lexical is None or count != self._lexical_count:  # rebuilt after a reindex
            stored = self._collection.get(where=self._scope.where(), include=["documents", "metadatas"])
            self._lexical_passages = [
                _Hit(doc, meta)
                for doc, meta in zip(stored["documents"], stored["metadatas"], strict=True)
                if self._scope.allows(meta)
            ]
            self._lexical = LexicalIndex(
                [_lexical_text(h.doc, h.meta) for h in self._lexical_passages],
                [str(h.meta["language"]) for h in self._lexical_passages],
                compounds=self._split_compounds,
            )
            self._lexical_count = count
        return self._lexical

    def _fuse(
        self,
        dense: list[_Hit],
        lexical: list[_Hit],
        floor: float,
        generated: Sequence[str] = (),
    ) -> list[Source]:
        sources: dict[str, Source] = {}
        passages: dict[str, dict[str, float]] = {}
        for ranked, kind in ((dense, "dense"), (lexical, "lexical")):
            seen: set[str] = set()
            for hit in ranked:
                article_id = str(hit.meta["article_id"])
                source = sources.get(article_id)
                if source is None:
                    source = sources[article_id] = _source(hit.meta, floor)
                    passages[article_id] = {}
                if kind == "dense":
                    source.score = max(source.score, hit.dense or 0.0)
                else:
                    source.lexical = max(source.lexical, hit.lexical)
                if article_id not in seen:  # an article's rank in this list is that of its best passage
                    setattr(source, f"{kind}_rank", len(seen))
                    seen.add(article_id)
                text = _with_heading(hit.doc, hit.meta)
                # passages keep the order they were found in, dense first
                passages[article_id].setdefault(text, len(passages[article_id]))
        # The generated questions only reorder articles found by passage: a source needs passages for the
        # prompt, and its score stays the passages' (the coverage rule reads it).
        for rank, article_id in enumerate(generated):
            if article_id in sources:
                sources[article_id].generated_rank = rank
        for source in sources.values():
            source.fused = fusion_score(source, self._weights, self._rrf_k)
        ranked = sorted(sources.values(), key=lambda s: (s.fused, s.score), reverse=True)
        for rank, source in enumerate(ranked):
            found = passages[source.article_id]
            # Two passages for the best article, one for the others: a short prompt is a fast answer.
            source.passages = sorted(found, key=found.__getitem__)[: 2 if rank == 0 else 1]
        return ranked


def fusion_score(source: Source, weights: Mapping[str, float], rrf_k: int) -> float:
    """Reciprocal rank fusion: weight / (rrf_k + rank) summed over the rankings (`weights` by "dense",
    "lexical", "generated") that found the article, its first place being rank 1."""
    ranks = {"dense": source.dense_rank, "lexical": source.lexical_rank, "generated": source.generated_rank}
    return sum(weights[kind] / (rrf_k + rank + 1) for kind, rank in ranks.items() if rank is not None)


# The end of a sentence (before the next one's capital, quote or bold) or of a line.
_SENTENCE_END = re.compile(r"(?<!\b\d)(?<!\b\d\d)[.!?:][\"“”»*)]*(?=\s+[\"„“*\-]*[A-ZÄÖÜ])|\n")


def whole_sentences(text: str) -> str:
    """The text up to the end of its last whole sentence or line ("" when there is none)."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    return text[: ends[-1]].rstrip() if ends else ""


def covering(ranked: list[Source], *, min_relevance: float, min_agreed: float) -> list[Source]:
    """The ranked sources that cover the question; empty when the help center does not.

    A source covers it when its relevance reaches `min_relevance`. When none does, an article two of the
    three rankings agree is the best (dense search ranks it first, BM25 first or second, the generated
    questions first) still covers it if its relevance reaches the lower `min_agreed`: agreement of
    different retrievers carries over to help centers whose cosine scale differs (long articles, other
    wording), a single threshold does not. (It need not be first in the fused order.)
    """
    sources = [s for s in ranked if s.score >= min_relevance]
    if sources or not ranked:
        return sources
    # Filter by relevance first: an agreed article below min_agreed must not hide one above it.
    return [s for s in ranked if s.agreed_best and s.score >= min_agreed][:1]


def own_language_first(
    sources: list[Source], ranked: list[Source], language: str, tie: float
) -> list[Source]:
    """The covering sources with the customer's language version of the best article first, when the
    best is in another language and one in theirs (among all `ranked`) is within `tie` of its relevance.

    The two language versions of an article score alike in a multilingual embedding: "what cookies does
    your site set" found the German newsletter article first, "hab zu weihnachten nen gutschein
    geschenkt bekommen" the English gift-card one (dev set). The customer's own version is the one to
    answer from, and the one the guard can check a sentence in their language against.
    """
    if not sources or not language or sources[0].language == language:
        return sources
    best = sources[0].score
    own = next((s for s in ranked if s.language == language and best - s.score <= tie), None)
    return sources if own is None else [own, *(s for s in sources if s is not own)]


def _source(meta: dict[str, Any], floor: float) -> Source:
    return Source(
        article_id=str(meta["article_id"]),
        title=str(meta["title"]),
        url=str(meta.get("url") or ""),
        language=str(meta["language"]),
        collection=str(meta["collection"]),
        score=floor,  # found only by BM25: no better than the weakest dense hit
    )


def _lexical_text(doc: str, meta: dict[str, Any]) -> str:
    # The title counts twice and the headings once: a word in them says more than one in the body.
    title = str(meta.get("title") or "")
    return f"{title}\n{title}\n{meta.get('heading_path') or ''}\n{doc}"


def _with_heading(text: str, meta: dict[str, Any]) -> str:
    heading = str(meta.get("heading_path") or "")
    return f"[{heading}]\n{text}" if heading else text
