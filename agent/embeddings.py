"""Embedder protocol and the sentence-transformers implementation (loaded from a local folder only)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from agent.errors import ModelError


class Embedder(Protocol):
    """Turns text into normalised vectors. `name` identifies the model in the index."""

    name: str

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model read from a folder on disk, on the CPU."""

    def __init__(self, path: Path, *, query_prefix: str = "", passage_prefix: str = "") -> None:
        from sentence_transformers import SentenceTransformer

        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelError(f"{path} is not a sentence-transformers model folder (no modules.json).")
        try:
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many types for a broken folder
            raise ModelError(f"The embedding model in {path} could not be loaded: {exc}") from exc
        self.name = path.name
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages (batched)."""
        vectors = self._model.encode(
            [self._passage_prefix + t for t in texts], batch_size=32, normalize_embeddings=True
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        return self._model.encode([self._query_prefix + text], normalize_embeddings=True)[0].tolist()
