"""Shared test doubles for the two seams of the answering side: a Generator and an Embedder.

Each wraps or replaces exactly one real part, so a test can inject a fault (a model that invents, a
model that loops, an embedder that crashes mid-run) or record what the real part was asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from agent.answering.generation import Generator, Message
from agent.knowledge.embeddings import Embedder


class ScriptedGenerator:
    """A model that says exactly this text, word by word (e.g. a confident invention)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def stream(self, messages: list[Message]) -> Iterator[str]:
        for word in self._text.split(" "):
            yield word + " "

    def forget(self) -> None:
        pass


class ReadingGenerator:
    """A model whose answer depends on the article it reads first: the text given for that article's
    title ("" when none is given). Records the titles of each prompt's articles, in order."""

    def __init__(self, answers: dict[str, str]) -> None:
        self._answers = answers
        self.read: list[list[str]] = []

    def stream(self, messages: list[Message]) -> Iterator[str]:
        titles = re.findall(r"^\[\d+\] (.+)$", messages[0]["content"], re.M)
        self.read.append(titles)
        yield from ScriptedGenerator(self._answers.get(titles[0] if titles else "", "")).stream(messages)

    def forget(self) -> None:
        pass


class LoopingGenerator:
    """A model stuck repeating one sentence; records how much it produced and whether it was stopped."""

    def __init__(self, sentence: str) -> None:
        self._sentence = sentence
        self.produced = 0
        self.closed = False

    def stream(self, messages: list[Message]) -> Iterator[str]:
        try:
            while self.produced < 1000:
                self.produced += 1
                yield self._sentence + " "
        finally:
            self.closed = True

    def forget(self) -> None:
        pass


class RecordingGenerator:
    """The real generator, recording every prompt it is asked to complete."""

    def __init__(self, real: Generator) -> None:
        self._real = real
        self.prompts: list[list[Message]] = []

    def stream(self, messages: list[Message]) -> Iterator[str]:
        self.prompts.append(messages)
        yield from self._real.stream(messages)

    def forget(self) -> None:
        self._real.forget()


class FailingEmbedder:
    """The real embedder, failing after a number of document batches (a crash mid-run)."""

    def __init__(self, real: Embedder, fail_after: int) -> None:
        self.name = real.name
        self._real = real
        self._left = fail_after

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self._left == 0:
            raise RuntimeError("simulated crash")
        self._left -= 1
        return self._real.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._real.embed_query(text)
