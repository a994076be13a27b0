"""Incremental indexing of articles into a persistent Chroma collection, keyed by content hash."""

from __future__ import annotations

import json
import logging
import os
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from agent.errors import IndexNotReadyError
from agent.knowledge.articles import Article, KnowledgeBase
from agent.knowledge.chunking import chunk_article
from agent.knowledge.embeddings import Embedder
from agent.knowledge.question_index import sync_questions
from agent.knowledge.questions import QuestionSource
from agent.runtime.endpoints import parse_endpoint

log = logging.getLogger(__name__)

# Bump when chunking changes in a way that must re-embed every article.
CHUNKING_VERSION = "1"


@dataclass
class IndexReport:
    """What one indexing run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    chunks: int = 0
    finished_at: str = ""
    indexed_at: dict[str, str] = field(default_factory=dict)  # article id → run that last embedded it
    questions: int = 0  # generated questions in the index
    questions_from_cache: int = 0  # articles whose questions were cached
    questions_generated: int = 0  # articles whose questions the chat model wrote in this run
    without_questions: list[str] = field(default_factory=list)  # not cached, and the model failed
    questions_problem: str = ""  # why the chat model could not write them

    def summary(self) -> str:
        """One line a support lead can read."""
        line = (
            f"added {len(self.added)}, updated {len(self.updated)}, removed {len(self.removed)}, "
            f"unchanged {len(self.unchanged)}, invalid {len(self.invalid)} ({self.chunks} chunks in index)"
        )
        if self.questions_from_cache or self.questions_generated or self.without_questions:
            line += (
                f"; generated questions: {self.questions_from_cache} articles from cache, "
                f"{self.questions_generated} generated now ({self.questions} in index)"
            )
        if self.without_questions:
            line += f", {len(self.without_questions)} articles without ({self.questions_problem or 'failed'})"
        return line


def open_client(index_dir: Path, *, server_url: str | None = None, ca_file: Path | None = None) -> Any:
    """A Chroma client with telemetry off: the server at `server_url`, else a local store in index_dir."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    options = ChromaSettings(
        anonymized_telemetry=False,
        allow_reset=False,
        chroma_server_ssl_verify=str(ca_file) if ca_file else None,
    )
    if server_url:
        endpoint = parse_endpoint(server_url)
        try:
            return chromadb.HttpClient(
                host=endpoint.host, port=endpoint.port, ssl=endpoint.tls, settings=options
            )
        except Exception as exc:  # chromadb raises ValueError or httpx errors when the server is down
            raise IndexNotReadyError(
                f"The Chroma server {server_url} cannot be reached ({exc}). Start it, or remove "
                "vector_store_url to use the local index."
            ) from exc
    index_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(index_dir), settings=options)


def collection_name(embedder_name: str) -> str:
    """One collection per embedding model, so switching models never mixes vector spaces."""
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", embedder_name).strip("-_").lower()
    return f"kb-{slug}"[:60]


def open_collection(client: Any, embedder_name: str, *, create: bool) -> Any:
    """The knowledge collection (passages)."""
    collection = open_vectors(client, collection_name(embedder_name), embedder_name, create=create)
    if collection is None:
        raise IndexNotReadyError(
            f"There is no search index for the embedding model '{embedder_name}' yet. "
            "Run `make index` (or `support-agent index`) first."
        )
    return collection


def open_vectors(client: Any, name: str, embedder_name: str, *, create: bool) -> Any | None:
    """A cosine collection of vectors made by `embedder_name`; None when it does not exist (and `create`
    is False). embedding_function=None: Chroma must never embed (or download a model) itself."""
    if create:
        return client.get_or_create_collection(
            name=name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding_model": embedder_name},
        )
    try:
        return client.get_collection(name=name, embedding_function=None)
    except Exception:  # chromadb raises NotFoundError/ValueError depending on version
        return None


def _index_hash(article: Article, chunk_size: int) -> str:
    return f"{article.content_hash[:32]}-{chunk_size}-{CHUNKING_VERSION}"


def _metadata(article: Article, index_hash: str, position: int, heading_path: str) -> dict[str, Any]:
    return {
        **article.index_metadata(),
        "updated": article.meta.updated.isoformat(),
        "heading_path": heading_path,
        "position": position,
        "index_hash": index_hash,
    }


def sync_index(
    kb: KnowledgeBase,
    embedder: Embedder,
    index_dir: Path,
    *,
    chunk_size: int = 900,
    progress: bool | None = None,
    client: Any = None,
    questions: QuestionSource | None = None,
) -> IndexReport:
    """Bring the index in line with the knowledge folder, re-embedding only changed articles.

    New chunks are written before the old ones are deleted, so an interrupted run leaves every
    article findable (at worst twice, which the next run cleans up). `client`: a Chroma client to use
    instead of the local store in index_dir (a Chroma server); the run's report stays in index_dir.
    `questions`: where customer-visible articles get their generated questions (cache, else the chat
    model); None keeps the questions of unchanged articles and drops the others (question_index.py).
    """
    client = client or open_client(index_dir)
    collection = open_collection(client, embedder.name, create=True)
    stored = collection.get(include=["metadatas"])
    ids_by_article: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for chunk_id, meta in zip(stored["ids"], stored["metadatas"] or [], strict=True):
        ids_by_article[str(meta["article_id"])][str(meta["index_hash"])].append(chunk_id)

    report = IndexReport(invalid=[str(p) for p in kb.problems])
    todo: list[tuple[Article, str]] = []
    for article in kb.articles:
        wanted = _index_hash(article, chunk_size)
        versions = ids_by_article.get(article.id, {})
        if wanted in versions:
            stale = [i for h, ids in versions.items() if h != wanted for i in ids]
            if stale:
                collection.delete(ids=stale)
            report.unchanged.append(article.id)
        else:
            todo.append((article, wanted))

    for article, wanted in tqdm(
        todo,
        desc="Embedding articles",
        unit="article",
        disable=progress is False or (progress is None and len(todo) < 10),
    ):
        chunks = chunk_article(article, chunk_size)
        vectors = embedder.embed_documents([c.searchable_text for c in chunks])
        collection.upsert(
            ids=[f"{article.id}#{wanted}#{c.position}" for c in chunks],
            embeddings=vectors,
            documents=[c.text for c in chunks],
            metadatas=[_metadata(article, wanted, c.position, c.heading_path) for c in chunks],
        )
        old = [i for ids in ids_by_article.get(article.id, {}).values() for i in ids]
        if old:
            collection.delete(ids=old)
            report.updated.append(article.id)
        else:
            report.added.append(article.id)

    current = {a.id for a in kb.articles}
    for article_id, versions in ids_by_article.items():
        if article_id not in current:
            collection.delete(ids=[i for ids in versions.values() for i in ids])
            report.removed.append(article_id)

    report.chunks = collection.count()
    report.questions = sync_questions(
        kb, embedder, client, lambda a: _index_hash(a, chunk_size), questions, progress=progress
    )
    if questions is not None:
        report.questions_from_cache, report.questions_generated = questions.from_cache, questions.generated
        report.without_questions, report.questions_problem = list(questions.without), questions.unavailable
    report.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    earlier, fresh = (read_state(index_dir) or {}).get("indexed_at", {}), {*report.added, *report.updated}
    report.indexed_at = {
        article_id: report.finished_at if article_id in fresh else earlier.get(article_id, "")
        for article_id in sorted(current)
    }
    write_state(index_dir, report)
    return report


def write_state(index_dir: Path, report: IndexReport) -> None:
    """Record the last run (atomically) for status pages."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / "last_run.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(report), indent=2))
    os.replace(tmp, path)


def read_state(index_dir: Path) -> dict[str, Any] | None:
    """The last run's report, if any."""
    path = index_dir / "last_run.json"
    return json.loads(path.read_text()) if path.is_file() else None
