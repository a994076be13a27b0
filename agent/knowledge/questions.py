"""Customer questions the chat model writes per article at index time ("doc2query"), and their cache.

A customer's question is often closer to a question about an article than to the article's own words,
so the index keeps a few generated questions per customer-visible article and retrieval ranks articles
by them too (a third list in the fusion, see retrieval.py). Generating takes the chat model seconds per
article, so the questions are cached in the knowledge folder (`.generated-questions.json`) by article
id, with the article's content hash and the model's name: an entry is generated again only when the
article or the model changed. The articles stay the source of truth: a lost or broken cache costs
generation time, nothing else.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.knowledge.articles import Article

log = logging.getLogger(__name__)

CACHE_FILE = ".generated-questions.json"
ARTICLE_CHARS = 1500  # the model reads the title and this much of the body: enough for its main topics
# Chosen with bench/doc2query.py: casual wording "in other words than the article" is what helps.
INSTRUCTION = {
    "de": "Welche Fragen stellen Kunden, deren Antwort in diesem Artikel steht? Schreibe {count} "
    "verschiedene Kundenfragen, jede in einer eigenen Zeile, umgangssprachlich, mit anderen Wörtern als "
    "der Artikel.",
    "en": "Which questions do customers ask whose answer is in this article? Write {count} different "
    "customer questions, each on its own line, casual, in other words than the article.",
}


class ChatModel(Protocol):
    """What generation needs of a chat model (agent.answering.generation.Generator fits)."""

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]: ...


def question_prompt(article: Article, count: int) -> str:
    """The request for `count` customer questions about one article, in the article's language."""
    language = article.meta.language if article.meta.language in INSTRUCTION else "en"
    instruction = INSTRUCTION[language].format(count=count)
    return f"# {article.meta.title}\n\n{article.body[:ARTICLE_CHARS]}\n\n{instruction}"


def parse_questions(text: str, count: int) -> list[str]:
    """The model's lines that hold a question, without list markers, at most `count`."""
    lines = (line.strip(" -*0123456789.#").strip() for line in text.splitlines() if "?" in line)
    return [line for line in dict.fromkeys(lines) if line][:count]


def generate_questions(model: ChatModel, article: Article, count: int) -> list[str]:
    """Up to `count` customer questions the model writes about the article (may be fewer)."""
    text = "".join(model.stream([{"role": "user", "content": question_prompt(article, count)}]))
    return parse_questions(text, count)


@dataclass(frozen=True)
class CachedQuestions:
    """One article's generated questions and what they were generated from."""

    hash: str  # the article's content hash
    model: str  # the chat model's name
    asked: int  # how many questions were asked for
    questions: tuple[str, ...]


class QuestionCache:
    """Generated questions by article id, in a JSON file written atomically."""

    def __init__(self, path: Path, entries: dict[str, CachedQuestions] | None = None) -> None:
        self.path = path
        self.entries = entries or {}
        self.problem = ""  # why the file was not read, if it was not

    @classmethod
    def load(cls, path: Path) -> QuestionCache:
        """The cache in `path`; empty (with a warning in `problem`) when the file is missing or broken."""
        cache = cls(path)
        if not path.is_file():
            return cache
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            cache.entries = {str(article_id): _entry(value) for article_id, value in raw.items()}
        except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError) as exc:
            cache.problem = (
                f"The generated-questions file {path} cannot be read ({type(exc).__name__}: {exc}"[:200]
                + "); it is treated as empty: questions are generated again from the articles, and the "
                "unreadable file is kept next to it as .broken when the new one is written."
            )
            log.warning(cache.problem)
        return cache

    def get(self, article: Article, model: str, count: int) -> list[str] | None:
        """The cached questions when they were made from this text by this model, asking for enough."""
        entry = self.entries.get(article.id)
        if entry is None or entry.hash != article.content_hash or entry.model != model or entry.asked < count:
            return None
        return list(entry.questions[:count])

    def put(self, article: Article, model: str, count: int, questions: list[str]) -> None:
        """Remember the questions generated for the article's current text."""
        self.entries[article.id] = CachedQuestions(article.content_hash, model, count, tuple(questions))

    def keep_only(self, article_ids: Iterable[str]) -> list[str]:
        """Drop the entries of articles that are gone; their ids."""
        keep = set(article_ids)
        dropped = sorted(i for i in self.entries if i not in keep)
        for article_id in dropped:
            del self.entries[article_id]
        return dropped

    def save(self) -> None:
        """Write the file atomically (a reader sees the old or the new file, never half of one)."""
        data = {
            article_id: {
                "hash": entry.hash,
                "model": entry.model,
                "asked": entry.asked,
                "questions": list(entry.questions),
            }
            for article_id, entry in sorted(self.entries.items())
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.problem and self.path.is_file():  # keep what could not be read, e.g. a hand edit gone wrong
            os.replace(self.path, self.path.with_name(f"{self.path.name}.broken"))
            self.problem = ""
        tmp = self.path.with_name(f"{self.path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def _entry(value: Any) -> CachedQuestions:
    questions = value["questions"]
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise TypeError("questions must be a list of texts")
    return CachedQuestions(str(value["hash"]), str(value["model"]), int(value["asked"]), tuple(questions))


@dataclass
class QuestionSource:
    """Questions for indexing: from the cache, else generated by the chat model (loaded on first need).

    `load_model` is called at most once; when it fails, the remaining articles get no questions this
    run (`unavailable` says why) and indexing goes on. Counts are per article.
    """

    cache: QuestionCache
    model_name: str
    count: int
    load_model: Callable[[], ChatModel]
    from_cache: int = 0
    generated: int = 0
    without: list[str] = field(default_factory=list)  # articles left without questions this run
    unavailable: str = ""  # why the model could not be used
    _model: ChatModel | None = field(default=None, repr=False)

    def needs_model(self, article: Article) -> bool:
        """True when the article's questions are not in the cache."""
        return self.cache.get(article, self.model_name, self.count) is None

    def questions(self, article: Article) -> list[str] | None:
        """The article's questions; None when they are not cached and the model cannot make them."""
        cached = self.cache.get(article, self.model_name, self.count)
        if cached is not None:
            self.from_cache += 1
            return cached
        model = self._loaded()
        if model is None:
            self.without.append(article.id)
            return None
        try:
            found = generate_questions(model, article, self.count)
        except Exception as exc:  # a failing model must never stop indexing
            log.warning("generating questions for %s failed: %s", article.id, type(exc).__name__)
            self.without.append(article.id)
            return None
        self.cache.put(article, self.model_name, self.count, found)
        self.generated += 1
        return found

    def finish(self, article_ids: Iterable[str]) -> None:
        """Drop the cache entries of articles no longer in the folder and write the cache if it changed."""
        dropped = self.cache.keep_only(article_ids)
        if not (self.generated or dropped):
            return
        try:
            self.cache.save()
        except OSError as exc:
            log.warning("the generated questions could not be saved to %s: %s", self.cache.path, exc.strerror)

    def _loaded(self) -> ChatModel | None:
        if self._model is None and not self.unavailable:
            try:
                self._model = self.load_model()
            except Exception as exc:  # ModelError, a missing file, no memory: index without questions
                self.unavailable = f"the chat model could not be loaded: {exc}"[:300]
                log.warning(self.unavailable)
        return self._model
