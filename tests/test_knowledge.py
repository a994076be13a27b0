"""Article validation and the demo help center's shape."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from agent.errors import KnowledgeError
from agent.knowledge.articles import load_knowledge
from tests.conftest import KNOWLEDGE_DIR, write_article


def test_valid_article_is_loaded(tmp_path: Path) -> None:
    write_article(tmp_path, "en-good", body="## Section\n\nReturn within 30 days.")
    kb = load_knowledge(tmp_path)
    assert kb.problems == []
    [article] = kb.articles
    assert article.id == "en-good"
    assert article.meta.language == "en"
    assert article.customer_visible
    assert "Return within 30 days." in article.body


def test_malformed_front_matter_is_reported_and_skipped(tmp_path: Path) -> None:
    write_article(tmp_path, "en-good")
    (tmp_path / "broken.md").write_text("---\nid: [unclosed\ntitle: x\n---\nbody\n", encoding="utf-8")
    (tmp_path / "no-front.md").write_text("# Just a heading\n\ntext\n", encoding="utf-8")
    kb = load_knowledge(tmp_path)
    assert [a.id for a in kb.articles] == ["en-good"]
    messages = {p.path.name: p.message for p in kb.problems}
    assert "not valid YAML" in messages["broken.md"]
    assert "no front matter" in messages["no-front.md"]


def test_missing_field_names_file_and_field(tmp_path: Path) -> None:
    write_article(tmp_path, "en-no-lang", language="")
    kb = load_knowledge(tmp_path)
    assert kb.articles == []
    [problem] = kb.problems
    assert problem.field == "language"
    assert problem.message == "missing"
    assert "en-no-lang.md [language]: missing" in str(problem)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("audience", "everyone"),
        ("status", "live"),
        ("updated", "yesterday"),
        ("url", "not a url"),
        ("language", "German"),
        ("collection", "Returns & Refunds"),
    ],
)
def test_invalid_field_value_names_the_field(tmp_path: Path, field: str, value: str) -> None:
    write_article(tmp_path, "en-bad", **{field: value})
    [problem] = load_knowledge(tmp_path).problems
    assert problem.field == field
    # in words a support lead understands, with what was found; never the validator's regex
    assert "pattern" not in problem.message and "^" not in problem.message and value in problem.message


def test_unknown_field_is_rejected(tmp_path: Path) -> None:
    write_article(tmp_path, "en-extra", author="someone")
    [problem] = load_knowledge(tmp_path).problems
    assert problem.field == "author"
    assert "unknown field" in problem.message


def test_duplicate_id_keeps_the_first_and_reports_the_second(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_article(tmp_path / "a", "en-same", title="First")
    write_article(tmp_path / "b", "en-same", title="Second")
    kb = load_knowledge(tmp_path)
    assert [a.meta.title for a in kb.articles] == ["First"]
    [problem] = kb.problems
    assert problem.field == "id"
    assert "duplicate id 'en-same'" in problem.message


def test_a_draft_repeating_a_live_id_never_takes_the_live_article_offline(tmp_path: Path) -> None:
    (tmp_path / "a-drafts").mkdir()
    (tmp_path / "b-live").mkdir()
    draft = write_article(tmp_path / "a-drafts", "en-same", title="Imported", status="draft")
    write_article(tmp_path / "b-live", "en-same", title="Live")
    kb = load_knowledge(tmp_path)
    assert [a.meta.title for a in kb.articles] == ["Live"]  # although the draft's path sorts first
    [problem] = kb.problems
    assert problem.path == draft and problem.field == "id"


def test_empty_body_and_non_utf8_are_reported(tmp_path: Path) -> None:
    path = write_article(tmp_path, "en-empty")
    path.write_text(path.read_text(encoding="utf-8").split("# ")[0], encoding="utf-8")
    (tmp_path / "latin1.md").write_bytes("---\nid: x\n---\nGr\xfc\xdfe".encode("latin-1"))
    messages = sorted(p.message for p in load_knowledge(tmp_path).problems)
    assert any("no text after the front matter" in m for m in messages)
    assert any("not UTF-8" in m for m in messages)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="does not exist"):
        load_knowledge(tmp_path / "nope")


def test_demo_help_center_is_complete_and_valid() -> None:
    kb = load_knowledge(KNOWLEDGE_DIR)
    assert kb.problems == []
    public = [a for a in kb.articles if a.customer_visible]
    languages = Counter(a.meta.language for a in public)
    assert len(kb.articles) >= 40
    assert languages["de"] >= 15 and languages["en"] >= 15
    assert sum(a.meta.audience == "internal" for a in kb.articles) >= 3
    assert sum(a.meta.status == "draft" for a in kb.articles) >= 2
    collections = {a.meta.collection for a in public}
    assert {"returns", "shipping", "payment", "account", "orders", "warranty", "privacy"} <= collections
    assert any("delet" in a.body.lower() and a.meta.collection == "privacy" for a in public)


def test_safe_fields_get_defaults_and_the_ones_that_matter_stay_required(tmp_path: Path) -> None:
    """A draft folder without `updated`, `title` or `collection` still indexes; audience and status must
    be given (a guess could publish an internal article)."""
    path = write_article(tmp_path, "en-draft", title="", collection="", updated="", body="Text.")
    path.write_text(path.read_text().replace("# \n", "# Returns made easy\n"), encoding="utf-8")
    [article] = load_knowledge(tmp_path).articles
    assert article.meta.title == "Returns made easy" and article.meta.collection == "general"
    assert article.meta.updated == date.fromtimestamp(path.stat().st_mtime)

    for field in ("audience", "status"):
        write_article(tmp_path, f"en-no-{field}", **{field: ""})
    problems = {p.path.name: p.field for p in load_knowledge(tmp_path).problems}
    assert problems == {"en-no-audience.md": "audience", "en-no-status.md": "status"}
