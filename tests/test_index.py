"""Incremental indexing into a real Chroma store with the real embedding model."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.knowledge.articles import load_knowledge
from agent.knowledge.embeddings import SentenceTransformerEmbedder
from agent.knowledge.index import open_client, open_collection, read_state, sync_index
from tests.conftest import write_article
from tests.fakes import FailingEmbedder


def _chunk_ids_by_article(index_dir: Path, embedder: SentenceTransformerEmbedder) -> dict[str, set[str]]:
    collection = open_collection(open_client(index_dir), embedder.name, create=False)
    stored = collection.get(include=["metadatas"])
    result: dict[str, set[str]] = {}
    for chunk_id, meta in zip(stored["ids"], stored["metadatas"], strict=True):
        result.setdefault(str(meta["article_id"]), set()).add(chunk_id)
    return result


@pytest.fixture
def small_kb(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    folder.mkdir()
    write_article(folder, "en-returns", body="## Window\n\nYou can return items within 30 days.")
    write_article(folder, "en-shipping", body="## Times\n\nParcels arrive in 1-3 business days.")
    write_article(folder, "en-payment", body="## Methods\n\nWe accept PayPal and credit cards.")
    return folder


def test_first_run_adds_everything_and_records_state(
    small_kb: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    report = sync_index(load_knowledge(small_kb), embedder, index_dir, progress=False)
    assert sorted(report.added) == ["en-payment", "en-returns", "en-shipping"]
    assert report.updated == report.removed == report.unchanged == []
    assert report.chunks >= 3
    assert "added 3, updated 0, removed 0, unchanged 0, invalid 0" in report.summary()
    assert read_state(index_dir)["added"] == report.added


def test_add_change_delete_touch_exactly_those_articles(
    small_kb: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    first = sync_index(load_knowledge(small_kb), embedder, index_dir, progress=False)
    before = _chunk_ids_by_article(index_dir, embedder)

    write_article(small_kb, "en-warranty", body="## Warranty\n\nTwo years of statutory warranty.")
    write_article(small_kb, "en-returns", body="## Window\n\nYou can return items within 60 days.")
    (small_kb / "en-payment.md").unlink()
    (small_kb / "broken.md").write_text("no front matter", encoding="utf-8")

    report = sync_index(load_knowledge(small_kb), embedder, index_dir, progress=False)
    assert report.added == ["en-warranty"]
    assert report.updated == ["en-returns"]
    assert report.removed == ["en-payment"]
    assert report.unchanged == ["en-shipping"]
    assert len(report.invalid) == 1 and "broken.md" in report.invalid[0]

    after = _chunk_ids_by_article(index_dir, embedder)
    assert set(after) == {"en-returns", "en-shipping", "en-warranty"}
    assert after["en-shipping"] == before["en-shipping"]  # not re-embedded
    assert after["en-returns"].isdisjoint(before["en-returns"])  # old version gone

    again = sync_index(load_knowledge(small_kb), embedder, index_dir, progress=False)
    assert again.added == again.updated == again.removed == []
    assert sorted(again.unchanged) == ["en-returns", "en-shipping", "en-warranty"]
    # when each article was last embedded: the run that added or changed it, kept by later runs
    assert read_state(index_dir)["indexed_at"] == {
        "en-returns": report.finished_at,
        "en-shipping": first.finished_at,
        "en-warranty": report.finished_at,
    }


def test_interrupted_run_leaves_previous_index_usable(
    small_kb: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    sync_index(load_knowledge(small_kb), embedder, index_dir, progress=False)
    for name in ("en-returns", "en-shipping", "en-payment"):
        write_article(small_kb, name, body=f"## New\n\nUpdated text for {name}.")

    with pytest.raises(RuntimeError, match="simulated crash"):
        sync_index(load_knowledge(small_kb), FailingEmbedder(embedder, 1), index_dir, progress=False)

    found = _chunk_ids_by_article(index_dir, embedder)
    assert set(found) == {"en-returns", "en-shipping", "en-payment"}  # every article still findable

    report = sync_index(load_knowledge(small_kb), embedder, index_dir, progress=False)
    assert len(report.updated) == 2 and len(report.unchanged) == 1
    collection = open_collection(open_client(index_dir), embedder.name, create=False)
    hashes = {m["article_id"]: set() for m in collection.get(include=["metadatas"])["metadatas"]}
    for meta in collection.get(include=["metadatas"])["metadatas"]:
        hashes[meta["article_id"]].add(meta["index_hash"])
    assert all(len(h) == 1 for h in hashes.values())  # the half-done run was cleaned up


def test_demo_index_holds_every_article(demo_data_dir: Path, embedder: SentenceTransformerEmbedder) -> None:
    found = _chunk_ids_by_article(demo_data_dir / "index", embedder)
    from tests.conftest import KNOWLEDGE_DIR

    assert set(found) == {a.id for a in load_knowledge(KNOWLEDGE_DIR).articles}
