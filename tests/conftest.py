"""Shared fixtures: real models from models/, the demo help center, a real Chroma index in a temp dir.

The test session is an entry point like the CLI: `pytest_configure` hardens the process (offline
switches, temp files in a session data dir, the egress guard) before any test module is imported.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from agent.runtime.process import harden_process
from agent.settings import Settings

if TYPE_CHECKING:
    from agent.knowledge.embeddings import Embedder

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO / "models"
KNOWLEDGE_DIR = REPO / "knowledge"
SMALL_CHAT_MODEL = "smollm2-135m-instruct"


@pytest.hookimpl(trylast=True)  # after pytest's own tmp_path plugin is configured
def pytest_configure(config: pytest.Config) -> None:
    """Harden the test process once, before collection imports any test module (and its libraries)."""
    session_data = config._tmp_path_factory.mktemp("session-data", numbered=False)  # type: ignore[attr-defined]
    harden_process(make_settings(session_data))


@pytest.fixture(autouse=True)
def _no_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never pick up an operator's support-agent.toml or SUPPORT_AGENT_* variables."""
    import os

    for name in list(os.environ):
        if name.startswith("SUPPORT_AGENT_"):
            monkeypatch.delenv(name)
    # Nor does indexing have a chat model write questions (slow, and it would write the knowledge
    # folder's cache): the tests of generated questions set this themselves.
    monkeypatch.setenv("SUPPORT_AGENT_GENERATED_QUESTIONS", "0")
    monkeypatch.chdir(tmp_path_factory.getbasetemp())


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings pointing at the repo's models and demo knowledge, with a private data dir."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "knowledge_dir": KNOWLEDGE_DIR,
        "models_dir": MODELS_DIR,
        "chat_model": SMALL_CHAT_MODEL,
        "threads": 2,
        "generated_questions": 0,  # no chat model writes questions at index time unless a test asks
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default embedding model, loaded once."""
    from agent.wiring import build_embedder

    return build_embedder(make_settings(Path("unused")))


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A data dir whose index holds the whole demo help center (built once per test session)."""
    from agent.knowledge.articles import load_knowledge
    from agent.knowledge.index import sync_index

    data_dir = tmp_path_factory.mktemp("demo-data")
    sync_index(load_knowledge(KNOWLEDGE_DIR), embedder, data_dir / "index", progress=False)
    return data_dir


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the demo knowledge folder."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    yield target


def write_article(folder: Path, article_id: str, body: str = "Some helpful text.", **meta: str) -> Path:
    """Write a valid article (front matter fields can be overridden, or dropped by passing '')."""
    fields = {
        "id": article_id,
        "title": f"Title of {article_id}",
        "language": "en",
        "collection": "returns",
        "audience": "public",
        "status": "published",
        "url": f"https://help.example/{article_id}",
        "updated": "2026-01-15",
    }
    fields.update(meta)
    front = "\n".join(f"{k}: {v}" for k, v in fields.items() if v != "")
    path = folder / f"{article_id}.md"
    path.write_text(f"---\n{front}\n---\n# {fields.get('title', '')}\n\n{body}\n", encoding="utf-8")
    return path
