"""Curated answers: a support lead's approved text given verbatim (with its article) to similar questions,
without the model – over the real embedder, the real demo index, the small real model and the real
conversation store; the console's actions through the real app."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.answering.assistant import SupportAgent
from agent.answering.curated import CuratedMatcher
from agent.answering.generation import Generator
from agent.cli import main
from agent.privacy.store import StoreError
from agent.staff.curated import CuratedError
from agent.wiring import Services, build_agent, build_generator, build_services
from tests.conftest import make_settings
from tests.fakes import RecordingGenerator
from tests.support import BackgroundServer, console_client, password_login
from ui.app import create_app

RETURNS_EN = "Items bought in the sale can be returned within 30 days like any other item."
RETURNS_DE = "Artikel aus dem Sale können Sie wie alle anderen innerhalb von 30 Tagen zurücksenden."


@dataclass
class Helpdesk:
    services: Services
    agent: SupportAgent
    model: RecordingGenerator

    def save(self, questions: str, answer: str, language: str, article: str, active: bool = True) -> int:
        return self.services.staff_services.curated.save(
            None, questions, answer, language, article, active, "lead", "staff:lead"
        )


@pytest.fixture(scope="module")
def small_model(demo_data_dir: Path) -> Generator:
    return build_generator(make_settings(demo_data_dir))


def _helpdesk(
    data_dir: Path, demo_data_dir: Path, embedder, small_model: Generator, **overrides: object
) -> Helpdesk:
    """Services over a copy of the demo index, whose agent answers with a recording small model."""
    shutil.copytree(demo_data_dir / "index", data_dir / "index")
    settings = make_settings(data_dir, **overrides)
    services = build_services(settings, embedder=embedder)
    model = RecordingGenerator(small_model)
    services.agent = build_agent(settings, embedder, model, curated=lambda: services.curated_store)
    return Helpdesk(services, services.agent, model)


@pytest.fixture
def helpdesk(tmp_path: Path, demo_data_dir: Path, embedder, small_model: Generator) -> Helpdesk:
    return _helpdesk(tmp_path / "data", demo_data_dir, embedder, small_model)


@pytest.mark.parametrize(
    ("wording", "paraphrase", "answer", "language", "article"),
    [
        (
            "Can I return an item I bought in the sale?",
            "is it possible to return something bought in the sale",
            RETURNS_EN,
            "en",
            "en-returns",
        ),
        (
            "Kann ich Artikel aus dem Sale zurückgeben?",
            "Darf ich reduzierte Artikel aus dem Sale zurückschicken?",
            RETURNS_DE,
            "de",
            "de-ruecksendung",
        ),
    ],
)
def test_a_paraphrase_gets_the_curated_text_and_its_citation_without_the_model(
    helpdesk: Helpdesk, wording: str, paraphrase: str, answer: str, language: str, article: str
) -> None:
    saved = helpdesk.save(wording, answer, language, article)
    got = helpdesk.agent.ask(paraphrase)
    assert got.text == answer and got.curated == saved and not got.refused
    assert [c.id for c in got.citations] == [article]
    assert got.citations[0].url.startswith("https://help.nordlicht-shop.example/")
    assert got.citations[0].title  # cited like a generated answer: title and link
    assert helpdesk.model.prompts == []  # the model was never asked
    assert helpdesk.services.curated_store.get(saved).uses == 1  # counted for the console


def test_an_unrelated_question_goes_the_normal_way(helpdesk: Helpdesk) -> None:
    helpdesk.save("Can I return an item I bought in the sale?", RETURNS_EN, "en", "en-returns")
    got = helpdesk.agent.ask("How do I reset my password?")
    assert not got.curated and got.text != RETURNS_EN
    assert len(helpdesk.model.prompts) == 1  # generated as before
    exchange = helpdesk.agent.ask("Can I exchange an item I bought in the sale?")  # close, other question
    assert not exchange.curated


def test_the_redacted_question_is_matched_and_the_redaction_still_reported(helpdesk: Helpdesk) -> None:
    saved = helpdesk.save("Can I return an item I bought in the sale?", RETURNS_EN, "en", "en-returns")
    got = helpdesk.agent.ask("Can I return an item I bought in the sale? jana@example.de")
    assert got.curated == saved and got.redacted == {"EMAIL": 1} and "jana" not in got.question


def test_wrong_language_is_not_matched(
    tmp_path: Path, demo_data_dir: Path, embedder, small_model: Generator
) -> None:
    # A lower threshold than the default, so the English question would match the German wording
    # (cosine 0.92) if the language did not decide first.
    desk = _helpdesk(
        tmp_path / "data", demo_data_dir, embedder, small_model, curated_answer_min_similarity=0.9
    )
    desk.save("Kann ich Artikel aus dem Sale zurückgeben?", RETURNS_DE, "de", "de-ruecksendung")
    got = desk.agent.ask("Can I return items from the sale?")
    assert got.language == "en" and not got.curated and got.text != RETURNS_DE
    assert desk.agent.ask("kann ich artikel aus dem sale zurückgeben").curated  # German still matches


def test_an_unreadable_store_means_the_normal_way(embedder, caplog: pytest.LogCaptureFixture) -> None:
    class UnreachableStore:  # the fault: the database is down
        def fingerprint(self) -> None:
            raise StoreError("Could not read the curated answers: connection refused")

    matcher = CuratedMatcher(lambda: UnreachableStore(), embedder, 0.94)
    vector = embedder.embed_query("Can I return items I bought in the sale?")
    assert matcher.match(vector, "en", lambda article: {"title": "t"}) is None
    assert "curated answers unavailable: StoreError" in caplog.text and "sale" not in caplog.text


def test_switched_off_answers_are_not_given(helpdesk: Helpdesk) -> None:
    helpdesk.save("Can I return an item I bought in the sale?", RETURNS_EN, "en", "en-returns", active=False)
    assert not helpdesk.agent.ask("Can I return items I bought in the sale?").curated
    [row] = helpdesk.services.staff_services.curated.rows()
    assert row.status == "inactive: switched off"


def test_unpublished_or_removed_article_makes_it_inactive(
    tmp_path: Path, demo_data_dir: Path, embedder, small_model: Generator, knowledge_copy: Path
) -> None:
    desk = _helpdesk(tmp_path / "data", demo_data_dir, embedder, small_model, knowledge_dir=knowledge_copy)
    staff = desk.services.staff_services
    saved = desk.save("Can I return an item I bought in the sale?", RETURNS_EN, "en", "en-returns")
    question = "Can I return items I bought in the sale?"
    assert desk.agent.ask(question).curated == saved
    assert staff.curated.rows()[0].status == "active"

    article = knowledge_copy / "en" / "en-returns.md"
    article.write_text(article.read_text().replace("status: published", "status: draft"))
    staff.reindex("staff:lead")
    got = desk.agent.ask(question)
    assert not got.curated and "en-returns" not in [c.id for c in got.citations]  # the normal way
    assert staff.curated.rows()[0].status == "inactive: article is draft / public"

    article.unlink()
    staff.reindex("staff:lead")
    assert not desk.agent.ask(question).curated
    assert staff.curated.rows()[0].status == "inactive: article removed (not in the index)"
    with pytest.raises(CuratedError, match="not shown to customers"):  # and no new answer rests on it
        desk.save("Can I return an item I bought in the sale?", RETURNS_EN, "en", "en-returns")


def test_out_of_scope_article_makes_it_inactive(
    tmp_path: Path, demo_data_dir: Path, embedder, small_model: Generator
) -> None:
    desk = _helpdesk(tmp_path / "a", demo_data_dir, embedder, small_model)
    saved = desk.save("Can I return an item I bought in the sale?", RETURNS_EN, "en", "en-returns")
    # Another replica sharing the same store, limited to the shipping collection.
    narrow = _helpdesk(tmp_path / "b", demo_data_dir, embedder, small_model, scope_collections=["shipping"])
    narrow.services.curated_store = desk.services.curated_store
    assert desk.agent.ask("Can I return items I bought in the sale?").curated == saved
    assert not narrow.agent.ask("Can I return items I bought in the sale?").curated
    assert narrow.services.staff_services.curated.rows()[0].status == (
        "inactive: article outside the configured scope"
    )


@pytest.mark.parametrize(
    ("questions", "answer", "found"),
    [
        ("Can I return sale items?", "Write to jana.berg@example.de and we sort it out.", "e-mail address"),
        ("Can I return sale items?", "Call Jana on +49 30 1234567 for a label.", "phone number"),
        ("My code is 7KQM-2XTP-9RWA-HC4D, can I return it?", RETURNS_EN, "reference code"),
        ("My name is Jana Berg, can I return sale items?", RETURNS_EN, "person's name"),
    ],
)
def test_text_with_personal_data_is_refused_on_save(
    helpdesk: Helpdesk, questions: str, answer: str, found: str
) -> None:
    with pytest.raises(CuratedError, match=f"personal data.*{found}.*Nothing was saved"):
        helpdesk.save(questions, answer, "en", "en-returns")
    assert helpdesk.services.curated_store.answers() == []


def test_bad_input_is_explained(helpdesk: Helpdesk) -> None:
    curated = helpdesk.services.staff_services.curated
    with pytest.raises(CuratedError, match="at least one question"):
        helpdesk.save("  \n ", RETURNS_EN, "en", "en-returns")
    with pytest.raises(CuratedError, match="Write the answer"):
        helpdesk.save("Can I return sale items?", " ", "en", "en-returns")
    with pytest.raises(CuratedError, match="not shown to customers"):
        helpdesk.save("Can I return sale items?", RETURNS_EN, "en", "internal-goodwill")
    with pytest.raises(CuratedError, match="language"):
        helpdesk.save("Can I return sale items?", RETURNS_EN, "fr", "en-returns")
    with pytest.raises(CuratedError, match="no curated answer 99"):
        curated.remove(99, "staff:lead")


def test_audit_entries_carry_ids_never_text(helpdesk: Helpdesk) -> None:
    staff = helpdesk.services.staff_services
    saved = helpdesk.save("Can I return an item I bought in the sale?", RETURNS_EN, "en", "en-returns")
    staff.curated.save(
        saved, "Can I return sale items?\nCan I return reduced items?", RETURNS_EN + " ", "en", "en-returns",
        True, "lead", "staff:lead",
    )  # fmt: skip
    staff.curated.remove(saved, "staff:lead")
    entries = [e for e in staff.audit_entries() if e["event"].startswith("curated_answer_")]
    assert [(e["event"], e["details"]["id"], e["details"]["article"]) for e in entries] == [
        ("curated_answer_saved", saved, "en-returns"),
        ("curated_answer_saved", saved, "en-returns"),
        ("curated_answer_removed", saved, "en-returns"),
    ]
    assert entries[1]["details"]["wordings"] == 2 and entries[1]["details"]["new"] is False
    text = json.dumps(staff.audit_entries())
    assert "sale" not in text.lower() and "30 days" not in text


def test_cli_lists_and_removes(helpdesk: Helpdesk, capsys: pytest.CaptureFixture[str]) -> None:
    saved = helpdesk.save("Can I return an item I bought in the sale?", RETURNS_EN, "en", "en-returns")
    data = ["--data-dir", str(helpdesk.services.settings.data_dir)]
    assert main(["curated", "list", *data]) == 0
    listed = capsys.readouterr().out
    assert f"{saved:>4}" in listed and "en-returns" in listed and "active" in listed
    assert main(["curated", "remove", "999", *data]) == 2
    assert main(["curated", "remove", str(saved), *data]) == 0
    assert helpdesk.services.curated_store.answers() == []
    assert helpdesk.services.staff_services.audit_entries()[-1]["actor"].startswith("cli:")


def test_simulations_give_curated_answers_without_counting_them(
    helpdesk: Helpdesk, tmp_path: Path, demo_data_dir: Path
) -> None:
    from agent.evaluation.simulate import load_questions, run_simulation
    from agent.wiring import build_simulation

    saved = helpdesk.save("Can I return an item I bought in the sale?", RETURNS_EN, "en", "en-returns")
    questions = tmp_path / "tickets.jsonl"
    rows = [
        {
            "id": "sale",
            "question": "Can I return items I bought in the sale?",
            "expected_article": "en-returns",
        },
        {
            "id": "password",
            "question": "How do I reset my password?",
            "expected_article": "en-password-reset",
        },
    ]
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "run"
    shutil.copytree(demo_data_dir / "index", out / "data" / "index")  # only brought up to date
    store = helpdesk.services.curated_store
    agent, kb = build_simulation(helpdesk.services.settings, out, curated=lambda: store)
    run_simulation(agent, load_questions(questions), out, kb=kb, retrieval_only=True, progress=False)
    sale, password = (json.loads(line) for line in (out / "results.jsonl").read_text().splitlines())
    assert sale["curated"] == saved and sale["answer"] == RETURNS_EN
    assert [c["id"] for c in sale["citations"]] == ["en-returns"]
    assert password["curated"] == 0 and password["citations"][0]["id"] == "en-password-reset"
    assert store.get(saved).uses == 0  # a simulation is not a customer


# the console ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def console_site(
    demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Services]]:
    data_dir = tmp_path_factory.mktemp("curated-console")
    shutil.copytree(demo_data_dir / "index", data_dir / "index")
    services = build_services(make_settings(data_dir, staff_two_factor_roles=[]))
    for user, role in (("lead", "support_lead"), ("officer", "privacy_officer")):
        services.staff.add(user, role, "correct horse battery staple")
    server = BackgroundServer(create_app(services))
    try:
        yield server.start(), services
    finally:
        server.stop()


def _console(url: str, username: str):  # noqa: ANN202 - gradio_client.Client
    return console_client(url, password_login(url, username, "correct horse battery staple"))


def test_console_start_from_a_gap_save_list_edit_and_remove(console_site: tuple[str, Services]) -> None:
    from gradio_client import Client

    url, services = console_site
    customer = Client(url, verbose=False, download_files=False)
    customer.predict(api_name="/consent_store")
    customer.predict("Can I return an item I bought in the sale?", api_name="/chat")
    customer.predict(api_name="/rate_down")  # a thumbs-down: a knowledge gap

    lead = _console(url, "lead")
    gaps = lead.predict(api_name="/gaps")["data"]
    row = next(i for i, g in enumerate(gaps, start=1) if "sale" in g[3])
    answer_id, questions, answer, language, article, active, note = lead.predict(
        row, api_name="/curated_pick"
    )
    assert answer_id is None and "Can I return an item I bought in the sale?" in questions
    assert language == "en" and article and active and f"Gap {row}" in note

    with pytest.raises(Exception, match="personal data"):
        lead.predict(
            None, questions, "Mail jana@example.de", "en", "en-returns", True, api_name="/curated_save"
        )
    saved, note, table = lead.predict(
        None, questions, RETURNS_EN, "en", "en-returns", True, api_name="/curated_save"
    )
    assert saved and f"Saved curated answer {int(saved)}" in note
    [listed] = [r for r in table["data"] if r[0] == saved]
    assert (
        listed[2:4] == ["en", "Returning an item (en-returns)"]
        and listed[4] == "lead"
        and listed[6] == "active"
    )

    _, chat = customer.predict("Can I return items I bought in the sale?", api_name="/chat")
    shown = json.dumps(chat[-1], ensure_ascii=False)
    assert RETURNS_EN in shown and "help.nordlicht-shop.example/en/returns" in shown  # text + source link

    table, articles = lead.predict(api_name="/curated_list")
    assert [r for r in table["data"] if r[0] == saved][0][7] == 1  # used once
    assert any(choice[1] == "en-returns" for choice in articles["choices"])
    assert all(choice[1] != "internal-goodwill" for choice in articles["choices"])  # customer-visible only

    form = lead.predict(saved, api_name="/curated_load")
    assert form[0] == saved and form[2] == RETURNS_EN and form[4]["value"] == "en-returns"
    edited = "Sale items: 30 days to return them, as for everything else."
    _, note, table = lead.predict(saved, form[1], edited, "en", "en-returns", True, api_name="/curated_save")
    assert [r for r in table["data"] if r[0] == saved][0][1].startswith("Can I return")
    assert services.curated_store.get(int(saved)).answer == edited

    with pytest.raises(Exception, match="I confirm"):
        lead.predict(saved, False, api_name="/curated_remove")
    cleared, note, table = lead.predict(saved, True, api_name="/curated_remove")
    assert cleared is None and "Removed" in note and all(r[0] != saved for r in table["data"])

    events = [e for e in services.audit.entries() if e["event"].startswith("curated_answer_")]
    assert [e["event"] for e in events] == ["curated_answer_saved"] * 2 + ["curated_answer_removed"]
    assert "sale" not in json.dumps(events).lower()


def test_console_refuses_a_role_without_the_actions(console_site: tuple[str, Services]) -> None:
    url, services = console_site
    officer = _console(url, "officer")
    for action, args in (
        ("curated_list", ()),
        ("curated_pick", (1,)),
        ("curated_load", (1,)),
        ("curated_save", (None, "Can I return sale items?", RETURNS_EN, "en", "en-returns", True)),
        ("curated_remove", (1, True)),
    ):
        with pytest.raises(Exception, match="may not use"):
            officer.predict(*args, api_name=f"/{action}")
    assert services.curated_store.answers() == [] or all(
        a.author == "lead" for a in services.curated_store.answers()
    )
    refused = [e for e in services.audit.entries() if e["details"].get("allowed") is False]
    assert {e["details"]["action"] for e in refused} >= {"curated_save", "curated_remove"}
