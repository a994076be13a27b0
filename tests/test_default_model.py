"""The default 1.5B chat model answers demo questions in German and English, citing the right article."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.answering.assistant import SupportAgent
from agent.settings import Settings
from agent.wiring import build_services
from tests.conftest import make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_agent(demo_data_dir: Path) -> SupportAgent:
    default_model = Settings.model_fields["chat_model"].default
    return build_services(make_settings(demo_data_dir, chat_model=default_model)).agent


@pytest.mark.parametrize(
    ("question", "article", "fact", "language"),
    [
        ("wie lange hab ich zeit, etwas zurückzuschicken?", "de-ruecksendung", "30", "de"),
        ("What are the shipping costs to Germany?", "en-shipping-costs", "4.90", "en"),
    ],
)
def test_default_model_answers_with_the_right_citation(
    default_agent: SupportAgent, question: str, article: str, fact: str, language: str
) -> None:
    answer = default_agent.ask(question)
    print(f"\nQ: {question}\nA: {answer.text}\nsources: {[c.id for c in answer.citations]} {answer.timings}")
    assert not answer.refused
    assert answer.language == language
    assert answer.citations[0].id == article
    assert fact in answer.text
