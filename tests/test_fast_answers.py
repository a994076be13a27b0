"""Fast answers: the prefix cache (reused, invalidated by edits, never holding customer text), no model
call for a certain handoff, the turnstile's queue and busy answer, and several customers at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent.answering.assistant import SupportAgent
from agent.answering.generation import LlamaCppGenerator
from agent.answering.guard import GroundingGuard
from agent.answering.language import needs_topic
from agent.answering.turnstile import Busy, Turnstile
from agent.knowledge.articles import load_knowledge
from agent.knowledge.embeddings import Embedder
from agent.knowledge.index import sync_index
from agent.wiring import agent_policy, build_generator, build_retriever, build_services
from tests.conftest import make_settings, write_article
from tests.fakes import RecordingGenerator
from tests.support import BackgroundServer, message_text
from ui.app import create_app

CANARY = "Zebrakanarienvogel7731"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("und wie lange dauert das?", True),
        ("what about Austria?", True),
        ("Was kostet das?", True),
        ("Wie wird das Wetter morgen in Hamburg?", False),
        ("What is the weather tomorrow in Hamburg?", False),
        ("Kann ich auf Rechnung bezahlen?", False),
    ],
)
def test_only_short_pointing_questions_borrow_the_previous_topic(question: str, expected: bool) -> None:
    assert needs_topic(question) is expected


def test_turnstile_serves_in_order_shows_the_place_and_refuses_beyond_the_cap() -> None:
    line = Turnstile(slots=1, max_waiting=1)
    with line.turn() as first:
        assert list(first) == []  # free slot: no wait
        places: list[int] = []
        admitted = threading.Event()

        def second_customer() -> None:
            with line.turn() as waiting:
                for ahead in waiting:
                    places.append(ahead)
                admitted.set()

        worker = threading.Thread(target=second_customer)
        worker.start()
        for _ in range(200):  # bounded: the second customer has queued within a few ms
            if line.waiting:
                break
            threading.Event().wait(0.01)
        assert line.waiting == 1
        with pytest.raises(Busy), line.turn():
            pass  # a third customer while one is served and one waits: busy at once
        assert not admitted.is_set()
    worker.join(timeout=10)
    assert admitted.is_set()
    assert places == [1]  # one customer ahead while waiting
    assert line.waiting == 0


@pytest.fixture(scope="module")
def small_generator(demo_data_dir: Path) -> LlamaCppGenerator:
    generator = build_generator(make_settings(demo_data_dir))
    assert isinstance(generator, LlamaCppGenerator)
    return generator


def _agent(settings, embedder: Embedder, generator) -> SupportAgent:  # noqa: ANN001
    return SupportAgent(
        build_retriever(settings, embedder), generator, agent_policy(settings), GroundingGuard(embedder)
    )


def test_off_topic_question_mid_chat_is_handed_off_without_the_model(
    demo_data_dir: Path, embedder: Embedder, small_generator: LlamaCppGenerator
) -> None:
    recording = RecordingGenerator(small_generator)
    agent = _agent(make_settings(demo_data_dir), embedder, recording)
    first = agent.ask("Wie lange habe ich Zeit für eine Rücksendung?")
    asked = len(recording.prompts)
    answer = agent.ask("Wie wird das Wetter morgen in Hamburg?", [(first.question, first.text)])
    assert answer.refused and not answer.follow_up
    assert len(recording.prompts) == asked  # no model call for a certain handoff


def test_sources_are_shown_before_the_model_answers(
    demo_data_dir: Path, embedder: Embedder, small_generator: LlamaCppGenerator
) -> None:
    agent = _agent(make_settings(demo_data_dir), embedder, small_generator)
    first = next(iter(agent.stream("How long do I have to return an item?")))
    assert not first.done and first.text == ""
    assert first.reading and first.reading[0].id == "en-returns"


def test_cached_prefixes_hold_no_customer_text(
    demo_data_dir: Path, embedder: Embedder, small_generator: LlamaCppGenerator
) -> None:
    agent = _agent(make_settings(demo_data_dir), embedder, small_generator)
    answer = agent.ask(f"How long do I have to return an item? My code word is {CANARY}.")
    assert not answer.refused
    cache = small_generator._cache  # the cache under test
    assert cache is not None and len(cache) >= 2  # the rules, and rules + the returns article
    llama = small_generator.llama
    for state in cache.states():
        kept = llama.detokenize(list(state.tokens)).decode(errors="ignore")
        assert CANARY not in kept and "code word" not in kept
        assert CANARY.encode() not in state.data
    assert small_generator.last.reused_tokens > 0 or small_generator.last.cache == "miss"


def test_edited_article_is_read_again(tmp_path: Path, embedder: Embedder, small_generator) -> None:  # noqa: ANN001
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    article = write_article(
        knowledge, "en-parcel-lockers", "Parcel lockers keep your parcel for 7 days before it goes back."
    )
    write_article(knowledge, "en-other", "Gift wrapping costs 3 euros per item.", title="Gift wrapping")
    settings = make_settings(tmp_path / "data", knowledge_dir=knowledge)
    sync_index(load_knowledge(knowledge), embedder, settings.index_dir, progress=False)
    recording = RecordingGenerator(small_generator)
    agent = _agent(settings, embedder, recording)
    question = "How long does a parcel locker keep my parcel?"
    agent.ask(question)
    agent.ask(question)
    assert small_generator.last.cache in ("context", "memory")  # the article was not read again

    article.write_text(article.read_text().replace("7 days", "12 days"), encoding="utf-8")
    sync_index(load_knowledge(knowledge), embedder, settings.index_dir, progress=False)
    agent.retriever.refresh()
    agent.ask(question)
    assert "12 days" in recording.prompts[-1][0]["content"]
    assert "7 days" not in recording.prompts[-1][0]["content"]
    llama = small_generator.llama
    kept = [llama.detokenize(list(s.tokens)).decode(errors="ignore") for s in small_generator._cache.states()]
    assert any("12 days" in text for text in kept)  # the new text was read and kept


@pytest.fixture
def served(demo_data_dir: Path, embedder: Embedder, request: pytest.FixtureRequest) -> Iterator[str]:
    settings = make_settings(demo_data_dir, **getattr(request, "param", {}))
    server = BackgroundServer(create_app(build_services(settings, embedder=embedder)))
    try:
        yield server.start()
    finally:
        server.stop()


def _chat(url: str, question: str) -> list[dict]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    client.predict(api_name="/consent_none")
    _, chat = client.predict(question, api_name="/chat")
    return chat


QUESTIONS = {
    "How long do I have to return an item?": "en/returns",
    "Kann ich auf Rechnung bezahlen?": "de/",
    "How much is shipping to Austria?": "en/",
    "Wie lösche ich mein Kundenkonto?": "de/",
}


def test_four_customers_at_once_each_get_their_own_answer(served: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        chats = dict(zip(QUESTIONS, pool.map(lambda q: _chat(served, q), QUESTIONS), strict=True))
    for question, chat in chats.items():
        assert [m["role"] for m in chat] == ["user", "assistant"]
        assert message_text(chat[0]) == question  # nobody sees another customer's turn
        reply = message_text(chat[1])
        assert reply and "🔎" not in reply and "⏳" not in reply  # a final answer, not a progress note
        others = [q for q in QUESTIONS if q != question]
        assert not any(other in reply for other in others)


@pytest.mark.parametrize("served", [{"max_waiting_customers": 0}], indirect=True)
def test_customers_beyond_the_queue_get_a_friendly_busy_answer(served: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        chats = list(pool.map(lambda q: _chat(served, q), list(QUESTIONS)))
    replies = [message_text(chat[-1]) for chat in chats]
    busy = [r for r in replies if "a lot of customers" in r or "sehr viele Kunden" in r]
    assert busy, replies  # one answer at a time and nobody may wait: the others are told at once
    assert len(busy) < len(replies)  # and the first customer was answered
    assert all("support@nordlicht-shop.example" in r for r in busy)  # with the way to a human
    assert not any("Articles I read" in r or "Gelesene Artikel" in r for r in busy)  # the model read nothing
