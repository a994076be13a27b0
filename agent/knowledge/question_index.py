"""The generated questions in the index: a Chroma collection next to the passages, one entry per question.

Each entry carries the scope metadata of its article's passages (article id, title, url, language,
collection, audience, status, index hash), so `Scope.where()` filters it the same way. Only
customer-visible articles have entries: drafts get theirs when they are published, and an article that
is removed, unpublished or made internal loses them in the same run.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from agent.knowledge.articles import Article, KnowledgeBase
from agent.knowledge.embeddings import Embedder
from agent.knowledge.questions import QuestionSource

SUFFIX = "-questions"


def question_collection_name(embedder_name: str) -> str:
    """The passages' collection name with a suffix, within Chroma's 63-character limit."""
    from agent.knowledge.index import collection_name

    return f"{collection_name(embedder_name)[:50]}{SUFFIX}"


def open_question_collection(client: Any, embedder_name: str, *, create: bool) -> Any | None:
    """The generated-questions collection; None when it does not exist (and `create` is False)."""
    from agent.knowledge.index import open_vectors

    return open_vectors(client, question_collection_name(embedder_name), embedder_name, create=create)


def sync_questions(
    kb: KnowledgeBase,
    embedder: Embedder,
    client: Any,
    index_hash: Callable[[Article], str],
    source: QuestionSource | None,
    *,
    progress: bool | None = None,
) -> int:
    """Bring the question entries in line with the articles; the number of entries afterwards.

    `source` None: nothing is generated; entries of unchanged customer-visible articles stay, all
    others go. New entries are written before old ones are deleted, as for passages.
    """
    collection = open_question_collection(client, embedder.name, create=True)
    stored = collection.get(include=["metadatas"])
    ids_by_article: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for entry_id, meta in zip(stored["ids"], stored["metadatas"] or [], strict=True):
        key = f"{meta['index_hash']}:{meta.get('questions_hash', '')}"
        ids_by_article[str(meta["article_id"])][key].append(entry_id)

    visible = [a for a in kb.articles if a.customer_visible]
    quiet = progress is False or source is None or not any(source.needs_model(a) for a in visible)
    for article in tqdm(visible, desc="Generating questions", unit="article", disable=quiet):
        wanted = index_hash(article)
        versions = ids_by_article.pop(article.id, {})
        found = source.questions(article) if source is not None else None
        if found is None:  # nothing new: keep what was made from this very text, if anything
            stale = [i for key, ids in versions.items() if not key.startswith(f"{wanted}:") for i in ids]
        else:
            questions_hash = _questions_hash(found)
            key = f"{wanted}:{questions_hash}"
            if key not in versions and found:
                collection.upsert(
                    ids=[f"{article.id}#{key}#{n}" for n in range(len(found))],
                    embeddings=[embedder.embed_query(q) for q in found],
                    documents=found,
                    metadatas=[_metadata(article, wanted, questions_hash) for _ in found],
                )
            stale = [i for k, ids in versions.items() if k != key for i in ids]
        if stale:
            collection.delete(ids=stale)

    gone = [i for versions in ids_by_article.values() for ids in versions.values() for i in ids]
    if gone:  # removed, unpublished or internal articles
        collection.delete(ids=gone)
    if source is not None:
        source.finish(a.id for a in kb.articles)
    return int(collection.count())


def _questions_hash(questions: list[str]) -> str:
    return hashlib.sha256(json.dumps(questions, ensure_ascii=False).encode()).hexdigest()[:16]


def _metadata(article: Article, index_hash: str, questions_hash: str) -> dict[str, Any]:
    return {
        **article.index_metadata(),
        "index_hash": index_hash,  # the same as the article's passages
        "questions_hash": questions_hash,
    }
