"""Special categories (GDPR Art. 9): the word lists, and the hold / send anyway / rephrase flow through the
real app (gradio_client over HTTP and headless Chromium), with the real small model."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.knowledge.embeddings import Embedder
from agent.privacy.audit import AuditLog
from agent.privacy.special_categories import CATEGORIES, WORDS, detect, statistics
from agent.privacy.subjects import pseudonym
from agent.runtime import metrics
from agent.settings import Settings
from agent.wiring import Services, build_services
from tests.browser import chromium_page, expect, screenshot
from tests.conftest import KNOWLEDGE_DIR, make_settings
from tests.support import BackgroundServer, files_containing, message_text
from ui.app import create_app
from ui.chat_turn import respond
from ui.texts import catalogue

REPO = Path(__file__).resolve().parent.parent

LIKELY = [
    # German: stems and compounds
    ("Ich habe Diabetes, ist der Zucker für mich geeignet?", "HEALTH"),
    ("Als Diabetikerin brauche ich die Lieferung schnell.", "HEALTH"),
    ("diabetische Socken zurückschicken", "HEALTH"),
    ("Ich bin schwanger und kann das Paket nicht tragen.", "HEALTH"),
    ("In der Schwangerschaft darf ich nichts Schweres heben.", "HEALTH"),
    ("Nach meiner Krebserkrankung war ich lange im Krankenhaus.", "HEALTH"),
    ("Ich habe Brustkrebs und konnte nicht zur Post.", "HEALTH"),
    ("Ich habe Depressionen, deshalb melde ich mich erst jetzt.", "HEALTH"),
    ("Ich bin schwerbehindert und brauche eine Lieferung bis an die Tür.", "HEALTH"),
    ("Wegen meiner Behinderung kann ich nicht zur Packstation.", "HEALTH"),
    ("Ich war krank, kann ich trotzdem noch zurückgeben?", "HEALTH"),
    ("Ich bin HIV-positiv.", "HEALTH"),
    ("Ich bin Gewerkschaftsmitglied, gibt es Rabatt?", "UNION"),
    ("Meine Gewerkschaft bestellt für uns alle.", "UNION"),
    ("Ich bin Muslimin, ist das Produkt ohne Gelatine?", "RELIGION"),
    ("Ich bin jüdisch und feiere am Freitagabend.", "RELIGION"),
    ("Als Katholik faste ich gerade.", "RELIGION"),
    ("Ich bin schwul, mein Mann holt das Paket ab.", "SEXUAL_ORIENTATION"),
    ("Meine Frau und ich sind lesbisch.", "SEXUAL_ORIENTATION"),
    ("Ich habe einen Migrationshintergrund.", "ETHNICITY"),
    # English: stems and phrases
    ("I have diabetes, is this suitable?", "HEALTH"),
    ("I'm a diabetic and need it quickly.", "HEALTH"),
    ("I am pregnant and cannot lift the parcel.", "HEALTH"),
    ("I was diagnosed with cancer last month.", "HEALTH"),
    ("I suffer from depression.", "HEALTH"),
    ("I am disabled and cannot carry the box.", "HEALTH"),
    ("Because of my disability I need a delivery to the door.", "HEALTH"),
    ("I was in hospital after a heart attack.", "HEALTH"),
    ("I use a wheelchair.", "HEALTH"),
    ("I am a union member.", "UNION"),
    ("Our trade union orders for everyone.", "UNION"),
    ("I am Muslim, is it halal?", "RELIGION"),
    ("I am Jewish.", "RELIGION"),
    ("I'm gay and my husband will collect it.", "SEXUAL_ORIENTATION"),
    ("As a lesbian couple we share one account.", "SEXUAL_ORIENTATION"),
    ("What is my ethnicity to you?", "ETHNICITY"),
]

ORDINARY = [
    "Wie lange dauert die Lieferung?",
    "Kann ich auf Rechnung zahlen?",
    "Wo finde ich mein Kundenkonto?",
    "Herzliche Grüße und danke!",
    "Das Paket kommt morgen, glaube ich.",
    "Wie funktioniert die Rücksendung?",
    "Gibt es eine Lieferbehinderung wegen des Streiks?",
    "Kann ich die Rechnung bei der Krankenkasse einreichen?",
    "Hallo, hier ist Christian, wo ist meine Bestellung?",
    "Lieferung bitte an die Kirchstraße 5",
    "Kann ich Christbaumkugeln umtauschen?",
    "Ich bin im Sabbatjahr, bitte später liefern.",
    "My account is disabled, what can I do?",
    "The pay button is disabled.",
    "Do you ship within the European Union?",
    "I am sick of waiting for my parcel.",
    "The box was ill-packed and arrived damaged.",
    "Can you diagnose why my payment failed?",
    "Is medical-grade packaging available?",
    "I protest against this shipping fee.",
    "Do you sell hearing aid batteries?",
    "Is there a health and safety data sheet?",
]


@pytest.mark.parametrize(("text", "category"), LIKELY, ids=[t[:40] for t, _ in LIKELY])
def test_likely_special_categories_are_detected(text: str, category: str) -> None:
    assert detect(text) == [category]


@pytest.mark.parametrize("text", ORDINARY, ids=[t[:40] for t in ORDINARY])
def test_ordinary_shop_questions_are_not_flagged(text: str) -> None:
    assert detect(text) == []


def test_the_help_center_and_the_evaluation_questions_raise_no_warning() -> None:
    """Every line of every help article and every question of the evaluation sets: none flagged."""
    lines = [line for path in sorted(KNOWLEDGE_DIR.rglob("*.md")) for line in path.read_text().splitlines()]
    questions = [
        json.loads(line)["question"]
        for path in sorted((REPO / "eval").glob("*.jsonl"))
        for line in path.open()
    ]
    assert len(lines) > 500 and len(questions) > 200
    flagged = [(text, detect(text)) for text in lines + questions if detect(text)]
    assert flagged == []


def test_every_category_has_german_and_english_words_and_names_in_every_locale() -> None:
    assert set(WORDS) == set(CATEGORIES)
    assert all(set(WORDS[c]) == {"de", "en"} and all(WORDS[c].values()) for c in CATEGORIES)
    for texts in catalogue().values():
        assert all(f"art9_{c.lower()}" in texts for c in CATEGORIES)
    assert detect("Ich bin schwanger und Gewerkschafterin.") == ["HEALTH", "UNION"]
    assert statistics(["HEALTH", "UNION"]) == {"ART9_HEALTH": 1, "ART9_UNION": 1}
    assert detect("") == []


def test_the_warning_can_be_switched_off_and_is_validated(tmp_path: Path) -> None:
    assert make_settings(tmp_path).special_category_warning is True
    assert make_settings(tmp_path, special_category_warning="false").special_category_warning is False
    with pytest.raises(Exception, match="special_category_warning"):
        make_settings(tmp_path, special_category_warning="sometimes")


# ---- through the real app -------------------------------------------------------------------------

CANARY = "canary-a9d4"
HEALTH = f"{CANARY} I am pregnant and cannot carry parcels. How long do I have to return an item?"


@pytest.fixture(scope="module")
def app(
    demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[tuple[str, Services]]:
    data_dir = tmp_path_factory.mktemp("special-data")
    shutil.copytree(demo_data_dir / "index", data_dir / "index")
    services = build_services(make_settings(data_dir), embedder=embedder)
    server = BackgroundServer(create_app(services))
    try:
        yield server.start(), services
    finally:
        server.stop()


def _client(url: str):  # noqa: ANN202 - gradio_client.Client
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def _answers() -> float:
    return sum(
        metrics.REGISTRY.get_sample_value("support_agent_answers_total", {"outcome": outcome}) or 0.0
        for outcome in ("answered", "refused")
    )


def _art9_count(services: Services, kind: str = "ART9_HEALTH") -> int:
    return sum(n for _, t, n in services.subjects.store.redaction_counts() if t == kind)


def test_a_health_message_is_held_counted_and_given_back_to_rephrase(
    app: tuple[str, Services], caplog: pytest.LogCaptureFixture
) -> None:
    url, services = app
    client = _client(url)
    _, code, *_ = client.predict(api_name="/consent_store")
    answers, counted = _answers(), _art9_count(services)
    with caplog.at_level(logging.DEBUG):
        box, chat = client.predict(HEALTH, api_name="/chat")
        assert box == ""
        assert len(chat) == 1 and chat[0]["role"] == "assistant"  # the notice only: no question, no answer
        notice = message_text(chat[0])
        assert "health data" in notice and "Art. 9" in notice and "Send anyway" in notice
        assert CANARY not in notice

        # not processed: no answer, nothing stored, nothing in any file or log; but counted
        assert _answers() == answers
        assert services.subjects.store.messages(code) == []
        assert files_containing(services.settings, CANARY.encode()) == []
        assert _art9_count(services) == counted + 1

        box, chat = client.predict(chat, api_name="/rephrase")
        assert (box, chat) == (HEALTH, [])  # back in the box, to edit; the notice gone
        box, _ = client.predict([], api_name="/rephrase")
        assert box != HEALTH  # no longer held: the box is left alone
        client.predict(api_name="/send_anyway")  # nothing left to send
    assert _answers() == answers and services.subjects.store.messages(code) == []
    assert CANARY not in caplog.text and "held back: special categories HEALTH" in caplog.text
    assert "special_category_consent" not in [e["event"] for e in services.subjects.audit.entries()]


def test_send_anyway_answers_stores_and_records_the_explicit_consent(app: tuple[str, Services]) -> None:
    url, services = app
    client = _client(url)
    _, code, *_ = client.predict(api_name="/consent_store")
    counted = _art9_count(services)
    client.predict(HEALTH, api_name="/chat")
    assert services.subjects.store.messages(code) == []
    answers = _answers()

    chat = client.predict(api_name="/send_anyway")  # the chat, its only visible output
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert CANARY in message_text(chat[0]) and message_text(chat[1]).strip()
    assert _answers() == answers + 1
    stored = [m.text for m in services.subjects.store.messages(code)]
    assert len(stored) == 2 and CANARY in stored[0]
    assert _art9_count(services) == counted + 1  # counted once, when it was held

    entry = services.subjects.audit.entries()[-1]
    assert entry["event"] == "special_category_consent" and entry["actor"] == "customer"
    subject = pseudonym(services.subjects.store.subject_id(code))
    assert entry["details"] == {"categories": ["HEALTH"], "subject": subject}
    assert CANARY not in services.settings.audit_path.read_text()
    assert AuditLog(services.settings.audit_path).verify().ok


def test_held_without_storing_is_counted_too_and_switching_off_processes_at_once(
    app: tuple[str, Services],
) -> None:
    url, services = app
    client = _client(url)
    client.predict(api_name="/consent_none")
    counted = _art9_count(services, "ART9_UNION")
    _, chat = client.predict("Ich bin Gewerkschaftsmitglied. Kann ich auf Rechnung zahlen?", api_name="/chat")
    assert "trade union membership" in message_text(chat[-1])  # the UI language: English, no Accept-Language
    assert _art9_count(services, "ART9_UNION") == counted + 1

    off: Settings = services.settings.model_copy(update={"special_category_warning": False})
    answers = _answers()
    *_, (box, chat, history, held) = respond(
        services.agent, off, services.subjects, HEALTH, [], [], {"store": False, "reference": None}
    )
    assert held is None and box == "" and len(history) == 1 and _answers() == answers + 1


def test_page_in_chromium_offers_send_anyway_and_rephrase(app: tuple[str, Services]) -> None:
    url, services = app
    question = "Ich bin schwanger. Wie lange habe ich Zeit für die Rücksendung?"
    with chromium_page([], locale="de-DE") as page:
        page.goto(url)
        expect(page.locator("#consent-none")).to_be_visible(timeout=60_000)
        page.locator("#consent-none").click()
        box = page.locator("#question textarea")
        expect(box).to_be_visible(timeout=60_000)
        expect(page.locator("#special-send")).to_be_hidden()

        box.fill(question)
        page.locator("#send").click()
        chat = page.locator("#chat")
        expect(chat).to_contain_text("Gesundheitsdaten", timeout=60_000)  # the notice in German
        expect(page.locator("#special-send")).to_have_text("Trotzdem senden")
        expect(box).to_have_value("")
        screenshot(page, "special-category-held.png")

        page.locator("#special-rephrase").click()
        expect(box).to_have_value(question)
        expect(page.locator("#special-send")).to_be_hidden()
        expect(chat).not_to_contain_text("Gesundheitsdaten")  # the notice went with it

        page.locator("#send").click()
        expect(page.locator("#special-send")).to_be_visible(timeout=60_000)
        page.locator("#special-send").click()
        expect(page.locator("#special-send")).to_be_hidden()
        expect(chat.get_by_text("Wie lange habe ich Zeit")).to_be_visible(timeout=60_000)  # the question
        # the answer: its sources, or the way to a human
        expect(chat).to_contain_text(re.compile("Quelle|support@nordlicht-shop"), timeout=240_000)
        screenshot(page, "special-category-sent.png")
    assert "special_category_consent" in [e["event"] for e in services.subjects.audit.entries()]
