"""Drafts, publishing and article versions with real components: the demo help center copied to a temp
folder with its two drafts, a real Chroma index, real embeddings, the small chat model, the real console
through gradio_client (two-factor logins), and the `support-agent` commands."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.knowledge.articles import ArticleProblem
from agent.knowledge.index import open_collection
from agent.knowledge.publishing import PublishRefused, with_status
from agent.knowledge.versions import VersionError
from agent.staff.accounts import ROLE_ACTIONS, ROLES
from agent.wiring import Services, build_agent, build_generator, build_retriever, build_services, open_store
from tests.browser import chromium_page, expect, screenshot
from tests.conftest import KNOWLEDGE_DIR, MODELS_DIR, make_settings, write_article
from tests.support import BackgroundServer
from tests.test_console import ACTION_ARGS, PASSWORD, Site, SteppingClock
from ui.app import create_app

PLUS = "draft-nordlicht-plus"
BERLIN = "draft-same-day-berlin"
PLUS_QUESTION = "How much does the Nordlicht Plus membership cost per year?"
QUESTIONS = (
    "id,question,expected_article\n"
    f"plus,{PLUS_QUESTION},{PLUS}\n"
    f"berlin,Gibt es eine Same-Day-Lieferung in Berlin mit dem Spreekurier?,{BERLIN}\n"
    "returns,How long do I have to return an item?,en-returns\n"
)
PUBLISH_ACTIONS = (
    "drafts_list",
    "drafts_simulate",
    "articles_publish",
    "articles_unpublish",
    "article_versions",
    "article_diff",
    "article_rollback",
)


def _live(root: Path, demo_data_dir: Path, embedder: Any) -> Services:
    """Services over a writable copy of the demo help center, its index copied from the demo index."""
    knowledge = root / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, knowledge)
    shutil.copytree(demo_data_dir / "index", root / "data" / "index")
    return build_services(make_settings(root / "data", knowledge_dir=knowledge), embedder=embedder)


@pytest.fixture
def live(tmp_path: Path, demo_data_dir: Path, embedder: Any) -> Services:
    return _live(tmp_path, demo_data_dir, embedder)


def _folder_digest(folder: Path) -> dict[str, str]:
    files = (p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _visible(services: Services, article_id: str) -> list[dict[str, Any]]:
    """The index metadata of an article's passages."""
    settings = services.settings
    collection = open_collection(open_store(settings), services.embedder.name, create=False)
    return collection.get(where={"article_id": article_id}, include=["metadatas"])["metadatas"]


def _audit(services: Services, event: str) -> list[dict[str, Any]]:
    return [e for e in services.subjects.audit.entries() if e["event"] == event]


def test_publish_changes_only_the_status_line_and_customers_get_the_answer(live: Services, embedder) -> None:
    settings = live.settings
    path = settings.knowledge_dir / "drafts" / f"{PLUS}.md"
    before = path.read_bytes()
    retriever = build_retriever(settings, embedder)
    assert PLUS not in [s.article_id for s in retriever.search(PLUS_QUESTION)]  # a draft: never found

    change = live.staff_services.publishing.publish([PLUS], "staff:lena")

    after = path.read_bytes()
    assert after == before.replace(b"\nstatus: draft\n", b"\nstatus: published\n") and after != before
    assert change.ids == [PLUS] and change.index.updated == [PLUS]
    assert {(m["status"], m["audience"]) for m in _visible(live, PLUS)} == {("published", "public")}
    agent = build_agent(settings, embedder, build_generator(settings))
    answer = agent.ask(PLUS_QUESTION)
    assert not answer.refused and answer.citations[0].id == PLUS
    history = live.staff_services.publishing.history(PLUS)
    assert [(v.version, v.actor, v.reason) for v in history] == [
        (1, "on disk", "created"),
        (2, "staff:lena", "published"),
    ]
    assert history[0].text.encode() == before and history[1].text.encode() == after
    published = _audit(live, "articles_published")
    assert [(e["actor"], e["details"]) for e in published] == [("staff:lena", {"ids": [PLUS], "count": 1})]
    assert "membership" not in json.dumps(live.subjects.audit.entries())  # ids and counts, never text

    live.staff_services.publishing.unpublish([PLUS], "staff:lena")  # back to draft: hidden again
    assert path.read_bytes() == before and {m["status"] for m in _visible(live, PLUS)} == {"draft"}
    assert _audit(live, "articles_unpublished")[-1]["details"] == {"ids": [PLUS], "count": 1}


@pytest.mark.parametrize(
    ("text", "published"),
    [
        ("---\nid: a\nstatus: draft\n---\nbody with status: draft\n", "---\nid: a\nstatus: published\n---\n"),
        (
            "\ufeff---\r\nid: a\r\nstatus: 'draft'  # new\r\n---\r\nbody\r\n",
            "\ufeff---\r\nid: a\r\nstatus: 'published'  # new\r\n",
        ),
    ],
)
def test_only_the_status_value_changes(text: str, published: str) -> None:
    result = with_status(text, "published")
    assert result.startswith(published) and len(result) == len(text) + len("published") - len("draft")
    assert result.endswith(text[-12:])  # the body (which may say "status: draft" itself) stays as it was
    with pytest.raises(ArticleProblem, match="exactly one"):
        with_status("---\nid: a\n---\nstatus: draft\n", "published")


def test_versions_diff_and_rollback_follow_the_index(live: Services) -> None:
    staff = live.staff_services
    path = live.settings.knowledge_dir / "en" / "en-returns.md"
    original = path.read_text(encoding="utf-8")
    staff.reindex("cli:tester")  # the first index run records every article's first version
    path.write_text(original.replace("30 days", "45 days"), encoding="utf-8")
    staff.reindex("cli:tester")
    history = staff.publishing.history("en-returns")
    assert [(v.version, v.actor, v.reason) for v in history] == [
        (1, "on disk", "created"),
        (2, "on disk", "edited"),
    ]
    diff = staff.publishing.diff("en-returns", 1, 2)
    assert diff.startswith("--- en-returns v1\n+++ en-returns v2\n")
    assert any(line.startswith("-") and "30 days" in line for line in diff.splitlines())
    assert any(line.startswith("+") and "45 days" in line for line in diff.splitlines())
    assert "45 days" in _documents(live, "en-returns")

    restored = staff.publishing.rollback("en-returns", 1, "staff:lena")

    assert path.read_text(encoding="utf-8") == original
    assert (restored.version, restored.actor, restored.reason) == (3, "staff:lena", "rolled back to v1")
    documents = _documents(live, "en-returns")
    assert "30 days" in documents and "45 days" not in documents  # the index follows
    entry = _audit(live, "article_rolled_back")[-1]
    assert entry["details"] == {"article": "en-returns", "to_version": 1, "new_version": 3}
    with pytest.raises(VersionError, match="has the text of version 3 already"):
        staff.publishing.rollback("en-returns", 3, "staff:lena")
    with pytest.raises(VersionError, match="has no version 9 .*versions 1 to 3"):
        staff.publishing.rollback("en-returns", 9, "staff:lena")


def test_a_deleted_article_keeps_its_history_and_can_be_restored(live: Services) -> None:
    staff = live.staff_services
    path = live.settings.knowledge_dir / "en" / "en-gift-cards.md"
    original = path.read_bytes()
    staff.reindex("cli:tester")
    path.unlink()
    assert "en-gift-cards" in staff.reindex("cli:tester").removed
    assert not _visible(live, "en-gift-cards")
    staff.publishing.rollback("en-gift-cards", 1, "cli:tester")
    assert path.read_bytes() == original and _visible(live, "en-gift-cards")


def test_refusals_name_the_problem_and_change_nothing(live: Services) -> None:
    staff = live.staff_services
    folder = live.settings.knowledge_dir
    write_article(folder / "drafts", "draft-broken", status="draft", language="")  # invalid: no language
    write_article(folder / "drafts", "en-returns-copy", status="draft")
    (folder / "drafts" / "en-returns-copy.md").write_text(
        (folder / "drafts" / "en-returns-copy.md")
        .read_text()
        .replace("id: en-returns-copy", "id: en-returns")
    )
    before = _folder_digest(folder)
    cases = {
        "draft-broken": r"draft-broken\.md \[language\]: missing",
        "no-such-article": "There is no article with the id 'no-such-article'",
        "en-refunds": "'en-refunds' is published already",
        "en-returns": "'en-returns' is the id of two files",
    }
    for article_id, message in cases.items():
        with pytest.raises(PublishRefused, match=message):
            staff.publishing.publish([article_id], "staff:lena")
    with pytest.raises(PublishRefused, match="Nothing was changed.*no-such-article"):  # all or nothing
        staff.publishing.publish([PLUS, "no-such-article"], "staff:lena")
    assert _folder_digest(folder) == before
    assert not _audit(live, "articles_published")
    view = staff.publishing.drafts()
    assert [a.id for a in view.drafts] == [PLUS, BERLIN]  # the live en-returns stays live, not the copy
    assert any(p.path.name == "en-returns-copy.md" and p.field == "id" for p in view.problems)
    assert any(p.path.name == "draft-broken.md" and p.field == "language" for p in view.problems)


def test_cli_publish_versions_and_rollback(
    live: Services, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    settings = live.settings
    where = ["--data-dir", str(settings.data_dir), "--knowledge-dir", str(settings.knowledge_dir)]
    where += ["--models-dir", str(MODELS_DIR)]
    assert main(["publish", *where]) == 2  # neither ids nor --all-drafts
    assert main(["publish", "--all-drafts", *where]) == 0
    out = capsys.readouterr().out
    assert f"published {PLUS} (version 2)" in out and f"published {BERLIN} (version 2)" in out
    assert main(["versions", PLUS, *where]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[1].split()[2:4] == ["cli:ops", "published"]
    assert main(["versions", PLUS, "--diff", "1", "2", *where]) == 0
    assert "-status: draft\n+status: published\n" in capsys.readouterr().out
    assert main(["rollback", BERLIN, "--to", "1", *where]) == 0
    assert "now version 3" in capsys.readouterr().out
    assert "status: draft" in (settings.knowledge_dir / "drafts" / f"{BERLIN}.md").read_text()
    assert main(["rollback", BERLIN, "--to", "7", *where]) == 2
    assert "has no version 7" in capsys.readouterr().err
    assert [e["actor"] for e in _audit(live, "articles_published")] == ["cli:ops"]


def _documents(services: Services, article_id: str) -> str:
    collection = open_collection(open_store(services.settings), services.embedder.name, create=False)
    return " ".join(collection.get(where={"article_id": article_id}, include=["documents"])["documents"])


# the console ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, demo_data_dir: Path, embedder: Any) -> Iterator[Site]:
    services = _live(tmp_path_factory.mktemp("publish-site"), demo_data_dir, embedder)
    clock = SteppingClock()
    services.staff.two_factor.clock = clock
    secrets: dict[str, str] = {}
    for role in ROLES:
        name = role.replace("_", "-")
        services.staff.add(name, role, PASSWORD)
        if services.staff.requires_two_factor(role):
            secrets[name] = services.staff.two_factor.enable(name).secret
    server = BackgroundServer(create_app(services))
    try:
        yield Site(server.start(), services.settings, services.subjects, services.staff, clock, secrets)
    finally:
        server.stop()


def test_console_simulate_publish_versions_and_rollback(site: Site, tmp_path: Path) -> None:
    from gradio_client import handle_file

    lead = site.console("support-lead")
    table, problems, chosen, _ = lead.predict(api_name="/drafts_list")
    rows = {row[0]: row for row in table["data"]}
    assert set(rows) == {PLUS, BERLIN} and rows[PLUS][6] == f"drafts/{PLUS}.md" and "no invalid" in problems
    assert [c[0] for c in chosen["choices"]] == [PLUS, BERLIN]

    questions = tmp_path / "questions.csv"
    questions.write_text(QUESTIONS, encoding="utf-8")
    live_files = _folder_digest(site.settings.knowledge_dir)
    summary, compared, _, changed = lead.predict(
        handle_file(str(questions)), True, api_name="/drafts_simulate"
    )
    figures = {row[0]: row[1:] for row in compared["data"]}
    assert float(figures["recall@3"][0]) < float(figures["recall@3"][1]) == 1.0  # the drafts are found
    assert "Nothing live was changed" in summary and _folder_digest(site.settings.knowledge_dir) == live_files
    moved = {row[0]: row for row in changed["data"]}
    assert moved["plus"][5] == PLUS and moved["plus"][3] != PLUS and "returns" not in moved

    with pytest.raises(Exception, match="I confirm"):
        lead.predict([PLUS], False, False, api_name="/articles_publish")
    message, table = lead.predict([PLUS], False, True, api_name="/articles_publish")
    assert f"Published 1 article(s): {PLUS}" in message and [r[0] for r in table["data"]] == [BERLIN]
    versions = lead.predict(PLUS, api_name="/article_versions")
    assert [r[:2] + r[3:4] for r in versions["data"]] == [
        [2, "staff:support-lead", "published"],
        [1, "on disk", "created"],
    ]
    diff = lead.predict(PLUS, 1, 2, api_name="/article_diff")
    assert "-status: draft\n+status: published\n" in diff

    with pytest.raises(Exception, match="I confirm"):
        lead.predict(PLUS, 1, False, api_name="/article_rollback")
    message, versions = lead.predict(PLUS, 1, True, api_name="/article_rollback")
    assert "now version 3" in message and versions["data"][0][3] == "rolled back to v1"
    assert "status: draft" in (site.settings.knowledge_dir / "drafts" / f"{PLUS}.md").read_text()
    with pytest.raises(Exception, match="no-such-article"):
        lead.predict(["no-such-article"], False, True, api_name="/articles_publish")

    details = [e["details"] for e in site.subjects.audit.entries()]
    assert {"ids": [PLUS], "count": 1} in details
    assert {"article": PLUS, "to_version": 1, "new_version": 3} in details


def test_the_tab_in_headless_chromium(site: Site) -> None:
    with chromium_page([]) as page:
        page.goto(site.url + "admin/")
        page.locator("#username").fill("support-lead")
        page.locator("#password").fill(PASSWORD)
        page.locator("#login").click()
        tab = page.get_by_role("tab", name="Drafts & publishing")
        expect(tab).to_be_visible(timeout=60_000)
        tab.click()
        page.get_by_role("button", name="Load drafts").click()
        expect(page.get_by_text(BERLIN).filter(visible=True).first).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Simulate drafts vs live")).to_be_visible()
        expect(page.get_by_role("button", name="Roll back")).to_be_visible()
        screenshot(page, "console-drafts-and-publishing.png")


@pytest.mark.parametrize("role", ["privacy_officer", "admin"])
def test_roles_without_the_publish_actions_are_refused(site: Site, role: str) -> None:
    console = site.console(role.replace("_", "-"))
    assert set(PUBLISH_ACTIONS) <= ROLE_ACTIONS["support_lead"]
    for action in PUBLISH_ACTIONS:
        with pytest.raises(Exception, match="may not use"):
            console.predict(*ACTION_ARGS[action], api_name=f"/{action}")
    denied = [e for e in site.subjects.audit.entries() if e["details"].get("allowed") is False]
    assert {e["details"]["action"] for e in denied if e["actor"] == f"staff:{role.replace('_', '-')}"} >= {
        "articles_publish",
        "article_rollback",
    }
