"""Grounding guard: keep only answer sentences the cited passages support, facts included."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.knowledge.embeddings import Embedder
from agent.knowledge.lexical import tokenize
from agent.knowledge.retrieval import Source

_ABBREVIATIONS = re.compile(
    r"\b(z|u|d|e|i|a|b|h|g|bzw|ca|inkl|zzgl|ggf|Nr|Mo|Fr|Sa|So|Tel|max|min|evtl|vgl)\.\s", re.I
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_URL = re.compile(r"(?:https?://|www\.)[^\s)>\]]+", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d ()/-]{6,}\d")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_PLACEHOLDER = "\u0000"


@dataclass(frozen=True)
class Verdict:
    """Why a sentence was kept or dropped, and which source supports it best."""

    sentence: str
    supported: bool
    source_id: str | None
    lexical: float
    semantic: float
    unsupported_facts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GuardPolicy:
    """Thresholds of the guard (see docs/quality.md for how they were chosen)."""

    min_lexical: float = 0.5  # share of the sentence's word stems found in one passage
    min_semantic: float = 0.88  # cosine of sentence and passage (multilingual-e5 scale)
    max_foreign_terms: int = 1  # question words the sentence repeats that no passage contains


class GroundingGuard:
    """Checks answer sentences against the passages the model was given."""

    def __init__(self, embedder: Embedder, policy: GuardPolicy | None = None) -> None:
        self._embedder = embedder
        self._policy = policy or GuardPolicy()
        self._vectors: dict[str, list[float]] = {}  # passage embeddings, reused across sentences

    def check(self, sentence: str, sources: list[Source], question: str = "") -> Verdict:
        """Is this sentence supported? Every number, e-mail, phone and URL must occur in the passages (or
        in the customer's own question), and its words or its meaning must match one passage."""
        passages = [(s.article_id, p) for s in sources for p in s.passages]
        missing = unsupported_facts(sentence, "\n".join([question] + [p for _, p in passages]))
        words = set(tokenize(sentence, ("de", "en")))
        # Words the sentence takes from the question that no passage contains: the model is answering
        # about the customer's topic (a product, a place) from articles that are about something else.
        foreign = foreign_terms(sentence, question, [p for _, p in passages]) if question else []
        if len(foreign) > self._policy.max_foreign_terms:
            missing = [*missing, *foreign]
        scored: list[tuple[str, float, float]] = []
        if words:
            vector = self._embedder.embed_query(sentence)
            for article_id, passage in passages:
                lexical = len(words & set(tokenize(passage, ("de", "en")))) / len(words)
                scored.append((article_id, lexical, _cosine(vector, self._passage_vector(passage))))
        # Credit the best-ranked source that supports the sentence, so citations follow retrieval order.
        supporting = [x for x in scored if self._supports(x[1], x[2])]
        best = supporting[0] if supporting else max(scored, key=lambda x: x[1] + x[2], default=(None, 0, 0))
        supported = bool(supporting) and not missing
        return Verdict(sentence, supported, best[0], round(best[1], 3), round(best[2], 3), missing)

    def _supports(self, lexical: float, semantic: float) -> bool:
        return lexical >= self._policy.min_lexical or semantic >= self._policy.min_semantic

    def _passage_vector(self, passage: str) -> list[float]:
        if passage not in self._vectors:
            if len(self._vectors) > 2048:
                self._vectors.clear()
            self._vectors[passage] = self._embedder.embed_documents([passage])[0]
        return self._vectors[passage]


def foreign_terms(sentence: str, question: str, passages: list[str]) -> list[str]:
    """Words of the sentence that come from the question but occur in none of the passages."""
    languages = ("de", "en")
    asked = set(tokenize(question, languages))
    known = set(tokenize("\n".join(passages), languages))
    found = []
    for word in dict.fromkeys(re.findall(r"\w+", sentence.lower())):
        stems = set(tokenize(word, languages))
        if stems & asked and not stems & known:
            found.append(word)
    return found


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of an answer (abbreviations such as 'z. B.' do not end a sentence)."""
    protected = _ABBREVIATIONS.sub(lambda m: m.group(0)[:-1] + _PLACEHOLDER, text)
    parts = _SENTENCE_END.split(protected)
    return [p.replace(_PLACEHOLDER, " ").strip() for p in parts if p and p.strip()]


def complete_sentences(buffer: str) -> tuple[list[str], str]:
    """Split streamed text into finished sentences and the unfinished rest."""
    protected = _ABBREVIATIONS.sub(lambda m: m.group(0)[:-1] + _PLACEHOLDER, buffer)
    last_end = None
    for match in _SENTENCE_END.finditer(protected):
        last_end = match
    if last_end is None:
        return [], buffer
    done = protected[: last_end.start()].replace(_PLACEHOLDER, " ")
    rest = protected[last_end.end() :].replace(_PLACEHOLDER, " ")
    return split_sentences(done), rest


def unsupported_facts(sentence: str, corpus: str) -> list[str]:
    """Numbers, prices, durations, dates, e-mails, phone numbers and URLs not found in the corpus."""
    missing: list[str] = []
    lowered = corpus.lower()
    rest = sentence
    for pattern in (_URL, _EMAIL):
        for found in pattern.findall(rest):
            if found.lower().rstrip(".,;:!?") not in lowered:
                missing.append(found)
        rest = pattern.sub(" ", rest)
    # A phone number supports only itself: "30" in "+49 30 1234 5678" is no evidence for "30 days".
    corpus_digits = {_digits(m) for m in _PHONE.findall(corpus)} | {
        _digits(m) for m in _NUMBER.findall(_PHONE.sub(" ", corpus))
    }
    for found in _PHONE.findall(rest):
        if _digits(found) not in corpus_digits:
            missing.append(found)
    rest = _PHONE.sub(" ", rest)
    for found in _NUMBER.findall(rest):
        if _digits(found) not in corpus_digits:
            missing.append(found)
    return missing


def _digits(text: str) -> str:
    # "4,90 €" and "€4.90" are the same price; "1.000" and "1,000" the same amount.
    return re.sub(r"\D", "", text).lstrip("0") or "0"


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))
