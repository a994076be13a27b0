"""SupportAgent: retrieve → decide (answer or hand off) → generate, with citations and timings."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from agent.answering.answer import Answer, Citation
from agent.answering.answer_text import (
    join_kept,
    quote,
    repeats,
    rests_on,
    without_dangling_intro,
    worth_quoting,
)
from agent.answering.curated import CuratedMatch, CuratedMatcher
from agent.answering.generation import Generator, Prompt, build_messages, declines
from agent.answering.guard import GroundingGuard, Verdict
from agent.answering.language import detect_language, needs_topic
from agent.answering.rerank import ARTICLE_CHARS, ModelReranker
from agent.answering.sentences import complete_sentences
from agent.answering.turnstile import Busy, Turnstile
from agent.errors import MessageError
from agent.knowledge.retrieval import Retriever, Source, covering, own_language_first
from agent.privacy.redaction import Redactor

_RANKED = 10  # articles retrieval ranks for one question


@dataclass(frozen=True)
class AgentPolicy:
    """The knobs SupportAgent needs from the settings."""

    min_relevance: float
    max_sources: int
    history_turns: int
    max_message_chars: int
    company: str
    handoff: dict[str, str]
    min_relevance_to_quote: float = 0.0
    min_relevance_agreed: float = 1.0  # covered from here when dense search and BM25 agree on the best
    redactor: Redactor | None = None  # personal data is removed before retrieval, model and reports
    # A further article joins the prompt only when its relevance is this close to the best one's:
    # every article costs the model seconds of reading.
    source_margin: float = 1.0
    busy: dict[str, str] = field(default_factory=dict)  # the "too many customers" text per language
    unsure: dict[str, str] = field(default_factory=dict)  # "no reliable answer in the articles I read"
    german_address: str = "Sie"  # formal or informal German ("du")
    # When retrieval's rankings disagree on the best article, the model reads each of the first
    # `rerank_candidates` and the one that explains the question better by this much (mean log-probability
    # per question token) is answered from instead. 0 = retrieval's order stands.
    rerank_margin: float = 0.0
    rerank_candidates: int = 3


@dataclass
class _Reading:
    """What the model wrote from one reading of the articles, as the guard judged it."""

    kept: list[Verdict] = field(default_factory=list)
    removed: list[Verdict] = field(default_factory=list)
    abstained: bool = False  # the model said the articles do not cover the question
    looping: bool = False  # it repeated itself and was stopped
    first_at: float | None = None  # when the first kept sentence was shown


class SupportAgent:
    """Answers a customer's question from the help center, or honestly hands off to a human."""

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        policy: AgentPolicy,
        guard: GroundingGuard,
        turnstile: Turnstile | None = None,
        curated: CuratedMatcher | None = None,
    ) -> None:
        self._retriever = retriever
        self._curated = curated
        self._generator = generator
        self._policy = policy
        self._guard = guard
        self._turnstile = turnstile or Turnstile(slots=1, max_waiting=1_000_000)
        likelihood = getattr(generator, "question_likelihood", None)  # remote servers have none
        self._reranker = (
            ModelReranker(
                likelihood,
                retriever.article_passages,
                lambda question, sources, language: self._messages(question, sources, language, []),
                margin=policy.rerank_margin,
                candidates=policy.rerank_candidates,
            )
            if likelihood is not None and policy.rerank_margin
            else None
        )

    @property
    def generator(self) -> Generator:
        """The inference backend (benchmarks read its statistics)."""
        return self._generator

    @property
    def retriever(self) -> Retriever:
        """The retriever answers are built on (the console reuses it for gaps and reindexing)."""
        return self._retriever

    @property
    def waiting(self) -> int:
        """Customers waiting for the model right now."""
        return self._turnstile.waiting

    def forget(self) -> None:
        """Clear the model's memory of past prompts (part of erasing a subject)."""
        self._generator.forget()

    def ask(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Answer:
        """The complete answer (consumes the stream)."""
        *_, answer = self.stream(question, history)
        return answer

    def stream(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Iterator[Answer]:
        """Yield growing partial answers, sentence by sentence as the guard accepts them.

        When the guard drops every sentence of the first reading, the model reads retrieval's next article
        before handing off. The last answer has done=True and the timings.
        """
        start = time.perf_counter()
        base, sources, ranked = self._triage(question, history)
        retrieved = time.perf_counter()
        timings = {"retrieve_s": round(retrieved - start, 4)}
        if base.refused or base.curated:  # handed off, or a curated answer: no model call
            timings.update(ttft_s=0.0, total_s=round(time.perf_counter() - start, 4))
            yield replace(base, timings=timings, done=True)
            return

        language = base.language
        base = replace(base, reading=[_citation(s) for s in self._prompt_sources(sources)])
        yield base  # the customer sees at once which articles the answer will come from
        recent = list(history)[-self._policy.history_turns :] if self._policy.history_turns else []
        reading = _Reading()
        try:
            with self._turnstile.turn() as line:
                for ahead in line:
                    yield replace(base, queued=ahead)
                timings["queued_s"] = round(time.perf_counter() - retrieved, 4)
                asked = time.perf_counter()
                chosen = self._reranker.rerank(base.question, sources, language) if self._reranker else None
                if chosen is not None:
                    timings["rerank_s"] = round(time.perf_counter() - asked, 4)
                if chosen and chosen[0] is not sources[0]:
                    first = chosen[0].article_id
                    reordered = [first, *(i for i in base.retrieved if i != first)]
                    base = replace(base, reading=[_citation(chosen[0])], retrieved=reordered)
                    yield base
                sources = self._prompt_sources(chosen or sources)
                yield from self._read(base, sources, recent, reading)
                timings.update(_generation_stats(self._generator))
                unread = (
                    self._unread_next(ranked, sources, base)
                    if self._dropped_all(reading, base, sources)
                    else None
                )
                if unread is not None:
                    # Every sentence written from the first reading was dropped: the article read first is
                    # often not the one the customer means (near-tied German articles), so the next one
                    # retrieval ranked is read as well before handing off.
                    base = replace(base, reading=[*base.reading, _citation(unread)])
                    yield base
                    # the same dropped list: a sentence dropped once ends the second reading too
                    second = _Reading(removed=reading.removed)
                    yield from self._read(base, [unread], recent, second)
                    timings.update(_generation_stats(self._generator), second_read=1.0)
                    reading, sources = second, [unread]
        except Busy:
            timings.update(ttft_s=0.0, total_s=round(time.perf_counter() - start, 4))
            yield replace(
                base,
                text=self._in_language(self._policy.busy, language),
                refused=True,
                busy=True,
                refusal="busy",
                timings=timings,
                done=True,
                reading=[],
            )
            return
        end = time.perf_counter()
        timings.update(ttft_s=round((reading.first_at or end) - retrieved, 4), total_s=round(end - start, 4))
        done = replace(base, timings=timings, done=True, removed=[v.sentence for v in reading.removed])
        # After a second reading only what the model wrote from it counts: quoting is for the first article.
        yield self._conclude(
            done,
            reading.kept,
            reading.removed,
            abstained=reading.abstained,
            sources=sources,
            may_quote=unread is None,
        )

    def _read(
        self, base: Answer, sources: list[Source], recent: list[tuple[str, str]], reading: _Reading
    ) -> Iterator[Answer]:
        """Let the model answer from these sources, judging each sentence as it completes; yield the
        growing answer (the sentences the guard kept so far)."""
        # An answer only from the other articles is not shown while it may yet be replaced by a quote of
        # the first (see _conclude).
        first_quotable = self._quotable(base, sources[0], strict=False)
        buffer = ""
        pieces = self._generator.stream(self._messages(base.question, sources, base.language, recent))
        try:
            for piece in pieces:
                buffer += piece
                sentences, buffer = complete_sentences(buffer)
                for sentence in sentences:
                    if repeats(sentence, reading.kept, reading.removed):
                        reading.looping = True  # a small model repeating itself: nothing new will come
                        break
                    reading.abstained |= self._judge(sentence, sources, base, reading.kept, reading.removed)
                kept = reading.kept
                if sentences and kept and (rests_on(kept, sources[0]) or not first_quotable):
                    reading.first_at = reading.first_at or time.perf_counter()
                    yield replace(base, text=join_kept(kept), citations=_cited(kept, sources))
                if reading.looping:
                    break
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()  # stops generation (and frees the model) when we stop early
        if buffer.strip() and not reading.looping:
            reading.abstained |= self._judge(buffer.strip(), sources, base, reading.kept, reading.removed)

    def _dropped_all(self, reading: _Reading, base: Answer, sources: list[Source]) -> bool:
        """Would this reading end in a handoff because the guard dropped every sentence the model wrote?"""
        return (
            not reading.kept
            and bool(reading.removed)
            and not reading.abstained
            and not self._quotable(base, sources[0], strict=False)
            and _contradiction(reading.removed, sources, base.language) is None
        )

    def _unread_next(self, ranked: list[Source], read: list[Source], base: Answer) -> Source | None:
        """The article to read next, whole (up to the limit the reranker reads, so its state may be in the
        prefix cache), in the customer's language and not read yet: the one the generated questions rank
        first, else the best of retrieval's first articles.

        The generated questions are written in customers' words: measured on the dev set, of the 11
        answerable questions read twice, their first article was the expected one for 7, retrieval's next
        for 4 ("kann man bei euch mit paypal zahlen" read the refunds article before the payment one)."""
        seen = {s.article_id for s in read}
        fresh = [s for s in ranked if s.article_id not in seen and s.language == base.language]
        near = {s.article_id for s in ranked[: self._policy.rerank_candidates]}
        favourite = [s for s in fresh if s.generated_rank == 0]
        for source in [*favourite, *(s for s in fresh if s.article_id in near)]:
            passages = self._retriever.article_passages(source.article_id, ARTICLE_CHARS)
            if passages:
                return replace(source, passages=passages)
        return None

    def _conclude(
        self,
        done: Answer,
        kept: list[Verdict],
        removed: list[Verdict],
        *,
        abstained: bool,
        sources: list[Source],
        may_quote: bool = True,
    ) -> Answer:
        """The final answer from the sentences the guard kept; a quoted passage or a handoff without any.

        Kept sentences that all come from the other articles in the prompt, while retrieval is sure of the
        first, answer something the customer did not ask (measured on the dev set: 11 of 13 such answers
        cited a wrong article, "how do I send them back?" answered with the exchange steps): the first
        article's passage is quoted instead.
        """
        kept, dangling = without_dangling_intro(kept)
        done = replace(done, removed=[*done.removed, *(v.sentence for v in dangling)])
        contradiction = None if kept else _contradiction(removed, sources, done.language)
        if contradiction:
            # "Ja, wir akzeptieren Nachnahme." was dropped because the article says "Keine Zahlung per
            # Nachnahme.": that statement answers the customer's yes/no question, in the article's words.
            source, statement = contradiction
            return replace(
                done, text=quote(source, passage=statement), citations=[_citation(source)], extractive=True
            )
        first = sources[0]
        if kept and (rests_on(kept, first) or not (may_quote and self._quotable(done, first, strict=False))):
            return replace(done, text=join_kept(kept), citations=_cited(kept, sources))
        if not kept and not (may_quote and self._quotable(done, first, strict=abstained)):
            refusal = "model" if abstained else "guard"
            # the customer saw which articles were read: "unsure", not the handoff's "no article"
            text = self._in_language(self._policy.unsure, done.language)
            return replace(done, text=text, refused=True, refusal=refusal)
        done = replace(done, removed=[*done.removed, *(v.sentence for v in kept)])
        return replace(done, text=quote(first), citations=[_citation(first)], extractive=True)

    def _quotable(self, answer: Answer, source: Source, *, strict: bool) -> bool:
        """Quoting a passage helps only when retrieval is sure it is the right one – never when the topic
        was borrowed from the previous question (an off-topic question mid-chat), nor when the customer
        asks a price the passage does not state."""
        return not answer.follow_up and worth_quoting(
            source, answer.question, self._policy.min_relevance_to_quote, strict=strict
        )

    def _judge(
        self, sentence: str, sources: list[Source], base: Answer, kept: list[Verdict], removed: list[Verdict]
    ) -> bool:
        """Keep or drop one sentence; True when it is the model saying the articles do not cover it."""
        if declines(sentence):
            return True
        before = [v.sentence for v in kept]
        verdict = self._guard.check(sentence, sources, base.question, base.language, before)
        (kept if verdict.supported else removed).append(verdict)
        return False

    def _handoff(self, language: str) -> str:
        return self._policy.handoff.get(language, self._policy.handoff["en"])

    def _in_language(self, texts: dict[str, str], language: str) -> str:
        """One of the policy's texts in the customer's language, else English, else the handoff."""
        return texts.get(language) or texts.get("en") or self._handoff(language)

    def validate(self, question: str) -> str:
        """Strip a message and reject empty or oversized ones with a clear error (before redaction)."""
        question = (question or "").strip()
        if not question:
            raise MessageError("Please type a question.")
        if len(question) > self._policy.max_message_chars:
            raise MessageError(
                f"Your message has {len(question)} characters; the limit is "
                f"{self._policy.max_message_chars}. Please shorten it."
            )
        return question

    def retrieve_only(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Answer:
        """Retrieval and the covered / not-covered decision, without calling the model."""
        start = time.perf_counter()
        answer, sources, _ = self._triage(question, history)
        total = round(time.perf_counter() - start, 4)
        return replace(
            answer,
            citations=answer.citations or [_citation(s) for s in self._prompt_sources(sources)],
            timings={"retrieve_s": total, "ttft_s": 0.0, "total_s": total},
            done=True,
        )

    def _triage(
        self, question: str, history: Sequence[tuple[str, str]]
    ) -> tuple[Answer, list[Source], list[Source]]:
        """Validate, retrieve, and decide: the empty answer to fill (or the handoff), its sources, and
        every article retrieval ranked."""
        question = self.validate(question)
        redaction = self._policy.redactor.redact(question) if self._policy.redactor else None
        if redaction:
            question = redaction.text
        language = detect_language(question, default=_history_language(history))
        vector = self._retriever.embedder.embed_query(question)  # for curated answers and retrieval
        found = (
            self._curated.match(vector, language, self._retriever.customer_article) if self._curated else None
        )
        if found:
            return _curated_answer(found, question, language, redaction.found if redaction else {}), [], []
        ranked, sources = self._retrieve(question, language, vector)
        follow_up = False
        if not sources and history and needs_topic(question):
            # A short follow-up ("and how long does that take?") gets its topic from the last question;
            # any other question without a match of its own is not covered (no model call needed).
            ranked, sources = self._retrieve(f"{history[-1][0]} {question}", language)
            follow_up = bool(sources)
        answer = Answer(
            "",
            [],
            refused=not sources,
            language=language,
            question=question,
            retrieved=[s.article_id for s in ranked],
            scores=[round(s.score, 4) for s in ranked],
            redacted=redaction.found if redaction else {},
            follow_up=follow_up,
        )
        if not sources:
            answer = replace(answer, text=self._handoff(language), refusal="retrieval")
        return answer, sources, ranked

    def _retrieve(
        self, query: str, language: str, vector: list[float] | None = None
    ) -> tuple[list[Source], list[Source]]:
        """The ranked articles and those that cover the question (none: not covered), each with the
        customer's language version of a near-tied best article first."""
        policy = self._policy
        # The first ten, not only the prompt's four: an article as relevant as the best may rank lower in the
        # fusion (BM25 misses it), and the generated questions' favourite is read when the first reading
        # fails (_unread_next).
        ranked = self._retriever.search(query, vector=vector, top_k=_RANKED)
        covered = covering(ranked, min_relevance=policy.min_relevance, min_agreed=policy.min_relevance_agreed)
        # Twice: the customer's version may rank first yet fall short of the relevance that covers.
        tie = policy.source_margin
        return own_language_first(ranked, ranked, language, tie), own_language_first(
            covered, ranked, language, tie
        )

    def _messages(
        self, question: str, sources: list[Source], language: str, history: list[tuple[str, str]]
    ) -> Prompt:
        policy = self._policy
        return build_messages(question, sources, language, history, policy.company, policy.german_address)

    def _prompt_sources(self, sources: list[Source]) -> list[Source]:
        """The best source, and the next ones only while they are nearly as relevant."""
        if not sources:
            return []
        best = sources[0].score
        close = [s for s in sources[1:] if best - s.score <= self._policy.source_margin]
        return [sources[0], *close][: self._policy.max_sources]


def _curated_answer(found: CuratedMatch, question: str, language: str, redacted: dict[str, int]) -> Answer:
    """A support lead's approved text, verbatim, citing the article it rests on as answers do."""
    meta = found.article
    citation = Citation(found.answer.article_id, str(meta.get("title") or ""), str(meta.get("url") or ""))
    return Answer(
        found.answer.answer,
        [citation],
        refused=False,
        language=language,
        question=question,
        retrieved=[citation.id],
        scores=[round(found.similarity, 4)],
        redacted=redacted,
        curated=found.answer.id,
    )


def _generation_stats(generator: Generator) -> dict[str, float]:
    """Prompt tokens read and reused from the prefix cache, when the generator reports them."""
    last = getattr(generator, "last", None)
    if last is None:
        return {}
    return {"prompt_tokens": float(last.prompt_tokens), "reused_tokens": float(last.reused_tokens)}


def _history_language(history: Sequence[tuple[str, str]]) -> str:
    return detect_language(history[-1][0]) if history else "en"


def _citation(source: Source) -> Citation:
    return Citation(source.article_id, source.title, source.url)


def _contradiction(removed: list[Verdict], sources: list[Source], language: str) -> tuple[Source, str] | None:
    """The first statement, in the customer's language, of an article in the prompt that says no to a yes
    the guard dropped (see GroundingGuard.check)."""
    by_id = {s.article_id: s for s in sources if s.language == language}
    for verdict in removed:
        for article_id, statement in verdict.contradicted_by:
            if article_id in by_id:
                return by_id[article_id], statement
    return None


def _cited(kept: list[Verdict], sources: list[Source]) -> list[Citation]:
    """Only the articles that support a kept sentence, in retrieval order."""
    used = {v.source_id for v in kept} | {article_id for v in kept for article_id in v.also}
    return [_citation(s) for s in sources if s.article_id in used]
