"""SupportAgent: retrieve → decide (answer or hand off) → generate, with citations and timings."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from agent.errors import MessageError
from agent.generation import Generator, build_messages
from agent.language import detect_language
from agent.retrieval import Retriever, Source


@dataclass(frozen=True)
class Citation:
    """An article an answer is based on."""

    id: str
    title: str
    url: str


@dataclass(frozen=True)
class Answer:
    """An answer, possibly partial while streaming (done=False)."""

    text: str
    citations: list[Citation]
    refused: bool
    language: str
    timings: dict[str, float] = field(default_factory=dict)
    done: bool = False
    retrieved: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `support-agent ask --json`."""
        return {
            "answer": self.text,
            "citations": [c.__dict__ for c in self.citations],
            "refused": self.refused,
            "timings": self.timings,
        }


@dataclass(frozen=True)
class AgentPolicy:
    """The knobs SupportAgent needs from the settings."""

    min_relevance: float
    max_sources: int
    history_turns: int
    max_message_chars: int
    company: str
    handoff: dict[str, str]


class SupportAgent:
    """Answers a customer's question from the help center, or honestly hands off to a human."""

    def __init__(self, retriever: Retriever, generator: Generator, policy: AgentPolicy) -> None:
        self._retriever = retriever
        self._generator = generator
        self._policy = policy

    def ask(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Answer:
        """The complete answer (consumes the stream)."""
        answer = None
        for answer in self.stream(question, history):
            pass
        assert answer is not None
        return answer

    def stream(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Iterator[Answer]:
        """Yield growing partial answers; the last one has done=True and the timings."""
        question = self.validate(question)
        start = time.perf_counter()
        language = detect_language(question, default=_history_language(history))
        sources = self._relevant(question, history)
        retrieved = time.perf_counter()
        timings = {"retrieve_s": round(retrieved - start, 4)}
        ranked_ids = [s.article_id for s in sources]
        scores = [round(s.score, 4) for s in sources]

        if not sources:
            timings.update(ttft_s=0.0, total_s=round(time.perf_counter() - start, 4))
            yield Answer(
                text=self._policy.handoff.get(language, self._policy.handoff["en"]),
                citations=[],
                refused=True,
                language=language,
                timings=timings,
                done=True,
                retrieved=ranked_ids,
                scores=scores,
            )
            return

        citations = [Citation(s.article_id, s.title, s.url) for s in sources]
        recent = list(history)[-self._policy.history_turns :] if self._policy.history_turns else []
        messages = build_messages(question, sources, language, recent, self._policy.company)
        partial = Answer("", citations, False, language, retrieved=ranked_ids, scores=scores)
        text = ""
        first_token_at: float | None = None
        for piece in self._generator.stream(messages):
            if first_token_at is None:
                first_token_at = time.perf_counter()
            text += piece
            yield replace(partial, text=text)
        end = time.perf_counter()
        timings.update(
            ttft_s=round((first_token_at or end) - retrieved, 4), total_s=round(end - start, 4)
        )
        yield replace(partial, text=text.strip(), timings=timings, done=True)

    def validate(self, question: str) -> str:
        """Strip a message and reject empty or oversized ones with a clear error."""
        question = (question or "").strip()
        if not question:
            raise MessageError("Please type a question.")
        if len(question) > self._policy.max_message_chars:
            raise MessageError(
                f"Your message has {len(question)} characters; the limit is "
                f"{self._policy.max_message_chars}. Please shorten it."
            )
        return question

    def _relevant(self, question: str, history: Sequence[tuple[str, str]]) -> list[Source]:
        sources = self._above_threshold(self._retriever.search(question))
        if not sources and history:
            # A short follow-up ("and how long does that take?") gets its topic from the last question.
            sources = self._above_threshold(self._retriever.search(f"{history[-1][0]} {question}"))
        return sources[: self._policy.max_sources]

    def _above_threshold(self, sources: list[Source]) -> list[Source]:
        return [s for s in sources if s.score >= self._policy.min_relevance]


def _history_language(history: Sequence[tuple[str, str]]) -> str:
    return detect_language(history[-1][0]) if history else "en"
