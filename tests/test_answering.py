"""Answering with the small real model over the real demo index: citations, refusal, scope, history."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.answering.assistant import SupportAgent
from agent.answering.generation import Generator
from agent.answering.guard import GroundingGuard
from agent.errors import MessageError
from agent.knowledge.articles import load_knowledge
from agent.wiring import agent_policy, build_generator, build_retriever
from tests.conftest import KNOWLEDGE_DIR, make_settings
from tests.fakes import RecordingGenerator

HIDDEN_IDS = {a.id for a in load_knowledge(KNOWLEDGE_DIR).articles if not a.customer_visible}


@pytest.fixture(scope="module")
def small_generator(demo_data_dir: Path) -> Generator:
    return build_generator(make_settings(demo_data_dir))


@pytest.fixture
def recorded(
    demo_data_dir: Path, embedder, small_generator: Generator
) -> tuple[SupportAgent, RecordingGenerator]:
    settings = make_settings(demo_data_dir)
    generator = RecordingGenerator(small_generator)
    agent = SupportAgent(
        build_retriever(settings, embedder), generator, agent_policy(settings), GroundingGuard(embedder)
    )
    return agent, generator


def test_answer_cites_the_right_article(recorded: tuple[SupportAgent, RecordingGenerator]) -> None:
    agent, generator = recorded
    answer = agent.ask("How many days do I have to send something back?")
    assert not answer.refused
    assert answer.text
    assert answer.citations[0].id == "en-returns"
    assert answer.citations[0].url == "https://help.nordlicht-shop.example/en/returns"
    assert {"retrieve_s", "ttft_s", "total_s"} <= set(answer.timings)
    assert len(generator.prompts) == 1
    assert "30 days" in generator.prompts[0][0]["content"]  # the article text is in the prompt


def test_german_question_gets_german_instructions(recorded: tuple[SupportAgent, RecordingGenerator]) -> None:
    agent, generator = recorded
    answer = agent.ask("Kann ich auf Rechnung bezahlen?")
    assert answer.language == "de"
    assert not answer.refused
    assert answer.retrieved[0] == "de-rechnungskauf"
    assert answer.citations  # an answer (or a quoted passage) always names its article
    assert "German" in generator.prompts[0][0]["content"]


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("What is the capital of Australia?", "en"),
        ("Wer hat die Fußball-WM 2014 gewonnen?", "de"),
    ],
)
def test_out_of_scope_is_refused_without_calling_the_model(
    recorded: tuple[SupportAgent, RecordingGenerator], question: str, language: str
) -> None:
    agent, generator = recorded
    answer = agent.ask(question)
    assert answer.refused
    assert answer.citations == []
    assert generator.prompts == []
    settings = make_settings(Path("unused"))
    assert answer.text == settings.handoff_text(language)


@pytest.mark.parametrize(
    "question",
    [
        "What is Nordlicht Plus and how much does the membership cost?",
        "Gibt es Same-Day-Lieferung in Berlin mit dem Spreekurier?",
        "How much goodwill credit can an agent give without approval?",
        "Wer ist der DHL Key Account Manager?",
        "fraud review of large orders to a new address",
    ],
)
def test_internal_and_draft_articles_never_reach_customers(
    recorded: tuple[SupportAgent, RecordingGenerator], demo_data_dir: Path, embedder, question: str
) -> None:
    agent, generator = recorded
    # The hidden article is in the index and is the best match when nothing filters …
    from agent.knowledge.index import open_client, open_collection

    collection = open_collection(open_client(demo_data_dir / "index"), embedder.name, create=False)
    raw = collection.query(query_embeddings=[embedder.embed_query(question)], n_results=1)
    assert raw["metadatas"][0][0]["article_id"] in HIDDEN_IDS
    # … yet neither retrieval nor the answer ever surfaces it.
    sources = build_retriever(make_settings(demo_data_dir), embedder).search(question, top_k=20)
    assert HIDDEN_IDS.isdisjoint(s.article_id for s in sources)
    answer = agent.ask(question)
    assert HIDDEN_IDS.isdisjoint(c.id for c in answer.citations)
    assert HIDDEN_IDS.isdisjoint(answer.retrieved)
    for prompt in generator.prompts:
        assert "Spreekurier" not in prompt[0]["content"] and "KULANZ" not in prompt[0]["content"]


def test_follow_up_question_sees_the_history(recorded: tuple[SupportAgent, RecordingGenerator]) -> None:
    agent, generator = recorded
    first = agent.ask("Can I pay on invoice?")
    follow = agent.ask("and how long do I have to pay?", history=[("Can I pay on invoice?", first.text)])
    assert not follow.refused
    assert "en-invoice" in follow.retrieved[:3]
    last_prompt = generator.prompts[-1]
    assert [m["role"] for m in last_prompt] == ["system", "user", "assistant", "user"]
    assert last_prompt[1]["content"] == "Can I pay on invoice?"
    assert last_prompt[2]["content"] == first.text


def test_empty_and_oversized_messages_are_rejected(recorded: tuple[SupportAgent, RecordingGenerator]) -> None:
    agent, generator = recorded
    with pytest.raises(MessageError, match="Please type a question"):
        agent.ask("   ")
    with pytest.raises(MessageError, match="the limit is 1500"):
        agent.ask("x" * 1501)
    assert generator.prompts == []


def test_streaming_yields_growing_text(recorded: tuple[SupportAgent, RecordingGenerator]) -> None:
    agent, _ = recorded
    parts = list(agent.stream("Which payment methods do you accept?"))
    assert [p.done for p in parts].count(True) == 1 and parts[-1].done
    partial = [p.text for p in parts[:-1]]
    assert all(later.startswith(earlier) for earlier, later in zip(partial, partial[1:], strict=False))
    assert parts[-1].text and parts[-1].citations
