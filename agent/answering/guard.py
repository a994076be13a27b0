"""Grounding guard: keep only answer sentences the cited passages support, facts included."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.answering.dates import YEAR, date_parts, numeric_dates
from agent.answering.language import written_in_other_language
from agent.answering.polarity import YES_NO, agrees, denied, words_asked
from agent.answering.prices import asks_price, states_price
from agent.answering.sentences import split_sentences
from agent.knowledge.embeddings import Embedder
from agent.knowledge.lexical import tokenize
from agent.knowledge.retrieval import Source

_LIST_NUMBER = re.compile(r"^[ \t]*\d{1,2}\.\s+", re.M)
_LIST_ITEM = re.compile(r"[-*•]\s|\d{1,2}\.\s")
_URL = re.compile(r"(?:https?://|www\.)[^\s)>\]]+", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d ()/-]{6,}\d")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"\w+")
_LANGUAGES = ("de", "en")
_MIN_SHARED = 2  # own word stems of a sentence that its passage must contain
_CLEARLY_BETTER = 0.15  # lexical + semantic support by which a lower-ranked passage wins the citation
_JUST_AS_WELL = 0.05  # support within this of the best: that article says it too and is cited as well
# A template gap the model left for a fact it does not have: "Die Adresse lautet: [E-Mail-Adresse]."
# (measured on the dev set, for a must-refuse question). A markdown link "[text](url)" is no gap.
_GAP = re.compile(r"\[[^\[\]\n]{2,}\](?!\()")
# Naming a help-center article instead of answering: "lesen Sie den Artikel „Newsletter abbestellen und
# Cookies“" (measured: the title the guard reads with each passage made it look supported, and it was the
# wrong article). Fine where a passage names it too ("Mehr dazu im Artikel „Ware beschädigt angekommen“").
_POINTER = re.compile(r"\b(?:article|artikel)\s*[\"„“”'‚‘]([^\"„“”'‚‘]{3,})", re.I)
# Saying where the answer is instead of giving it: an article's own introduction ("Hier finden Sie die
# Lieferzeiten für Standard- und Expressversand …", copied for "wo ist mein paket gerade?") or a
# referral ("Please see the articles on returning items for more details."). Measured on the dev set.
_SIGNPOST = re.compile(
    r"^(?:hier finden sie|here you(?:'ll| will)? find|(?:please )?see (?:the|our) articles?\b"
    r"|(?:weitere|mehr) informationen finden sie)",
    re.I,
)
_YEAR = re.compile(rf"\b{YEAR}\b")
# Offering more help instead of giving any: "If you have any other questions about your order or delivery,
# feel free to ask!" (measured: kept as the whole answer, its words being the article's). With a contact
# detail it says where to ask, which is an answer.
_PLEASANTRY = re.compile(
    r"\b(?:feel free to (?:ask|reach out)|if you have any (?:other |further |more )?questions"
    r"|(?:wenn|falls) sie (?:noch )?(?:weitere |andere )?fragen|zögern sie nicht)\b",
    re.I,
)
# An either-or question ending in its two options: "welcher paketdienst bringt eure sachen, dhl oder hermes?"
_CHOICE = re.compile(r"(\w+)\s+(?:oder|or)\s+(\w+)\W*$", re.I)
_INFORMAL = re.compile(r"\b(?:du|dich|dir|dein|deine|deinen|deinem|deiner|deines)\b", re.I)


@dataclass(frozen=True)
class Verdict:
    """Why a sentence was kept or dropped, and which source supports it best."""

    sentence: str
    supported: bool
    source_id: str | None
    lexical: float
    semantic: float
    unsupported_facts: list[str] = field(default_factory=list)
    also: tuple[str, ...] = ()  # other articles that say it just as well (cited too)
    # (article id, statement) of the passages that say no to a yes this sentence wrongly gave
    contradicted_by: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class GuardPolicy:
    """Thresholds of the guard (see docs/quality.md for how they were chosen)."""

    min_lexical: float = 0.5  # share of the sentence's own word stems (not the question's) in one passage
    min_semantic: float = 0.88  # cosine of sentence and passage (multilingual-e5 scale)
    max_foreign_terms: int = 1  # question words the sentence repeats that no passage contains
    formal_german: bool = True  # German answers say "Sie"; a sentence that says "du" is dropped


class GroundingGuard:
    """Checks answer sentences against the passages the model was given."""

    def __init__(self, embedder: Embedder, policy: GuardPolicy | None = None) -> None:
        self._embedder = embedder
        self._policy = policy or GuardPolicy()
        self._vectors: dict[str, list[float]] = {}  # passage embeddings, reused across sentences

    def check(
        self,
        sentence: str,
        sources: list[Source],
        question: str = "",
        language: str = "",
        kept: Sequence[str] = (),
    ) -> Verdict:
        """Is this sentence supported by one passage? That passage must hold every number, e-mail, phone
        and URL of the sentence (or the customer's question does), agree with its yes or no, and match
        its words or meaning beyond what the customer already said. A sentence in the other language
        than the answer's (`language`) is dropped whatever its support, and so is one without a price
        for a price question until a sentence of the answer kept before it (`kept`) gave one."""
        said = sentence
        sentence = _LIST_NUMBER.sub("", sentence)  # the number of a list item is no word or fact of it
        passages = [(s.article_id, p) for s in sources for p in s.passages]
        titles = {s.article_id: s.title for s in sources}
        # Restating the question proves nothing: "Yes, you must take leave." for "Must I take leave?"
        # is made of the customer's words, so only the sentence's other words count as evidence.
        asked = set(tokenize(question, _LANGUAGES)) - YES_NO
        own = set(tokenize(sentence, _LANGUAGES)) - asked - YES_NO
        problems: list[str] = []
        # The choice of an either-or question is the answer where the articles name it and never the other
        # (the rest of the sentence is the question's frame: "DHL bringt Ihre Sachen.").
        picked, left = chosen_option(sentence, question)
        choice = False
        if picked:
            known = set(tokenize("\n".join([*titles.values(), *(p for _, p in passages)]), _LANGUAGES))
            if left & known and not picked & known:
                problems.append("the articles name the other option")
            choice = bool(picked & known) and not left & known
        foreign = foreign_terms(sentence, question, [p for _, p in passages]) if question else []
        if len(foreign) > self._policy.max_foreign_terms and not choice:
            # Words the sentence takes from the question that no passage contains: the model is answering
            # about the customer's topic (a product, a place) from articles that are about something else.
            problems.extend(foreign)
        if self._policy.formal_german:
            problems.extend(_INFORMAL.findall(sentence))
        problems.extend(_no_answer(sentence, [p for _, p in passages]))
        denial = denied(sentence, question, passages)
        problems.extend(f"the articles say the opposite: {word}" for word in denial.words)
        if asks_price(question) and not any(map(states_price, (sentence, *kept))):
            problems.append("no price for a price question")
        if language and written_in_other_language(sentence, language):
            problems.append(f"not in {language}")
        scored: list[_Match] = []
        vector = self._embedder.embed_query(sentence) if own else None
        for article_id, passage in passages:
            # The model reads each passage under its article's title, which states something too.
            stems = set(tokenize(f"{titles[article_id]}\n{passage}", _LANGUAGES))
            shared = len(own & stems)
            scored.append(
                _Match(
                    article_id,
                    lexical=shared / len(own) if own else 0.0,
                    semantic=_cosine(vector, self._passage_vector(passage)) if vector else 0.0,
                    shared=shared,
                    missing=[
                        *unsupported_facts(sentence, f"{question}\n{passage}"),
                        *example_years(sentence, question, passage),
                    ],
                    polarity=agrees(sentence, passage),
                    answers=len(own) == 1 and _states_with(own, asked, passage, titles[article_id]),
                    picks=choice and bool(picked & stems) and shared == len(own),
                )
            )
        # Credit the best-ranked passage that supports the sentence about as well as the best one does:
        # retrieval order decides between equals (two articles may say the same), clearly better support
        # wins (with near-tied articles in the prompt, a higher-ranked one that merely also fits is wrong).
        supporting = [m for m in scored if self._supports(m)]
        top = max(map(_closeness, supporting or scored), default=0.0)
        best = next((m for m in supporting or scored if _closeness(m) >= top - _CLEARLY_BETTER), _NO_MATCH)
        # Two articles often state the same fact (delivery times in "Delivery times" and in "Tracking"):
        # each one that supports the sentence about as well as the best one is cited with it.
        also = tuple(
            dict.fromkeys(
                str(m.article_id)
                for m in supporting
                if m.article_id != best.article_id and _closeness(m) >= top - _JUST_AS_WELL
            )
        )
        missing = [*best.missing, *problems]
        if not best.polarity:
            missing.append("yes/no")
        supported = bool(supporting) and not problems
        # A yes the articles deny, and nothing else wrong with it: their statement is the answer.
        only_denied = len(problems) == len(denial.words) and not best.missing
        return Verdict(
            said,
            supported,
            best.article_id,
            round(best.lexical, 3),
            round(best.semantic, 3),
            missing,
            also if supported else (),
            contradicted_by=denial.statements if denial.words and only_denied else (),
        )

    def _supports(self, match: _Match) -> bool:
        # One word beyond the question is no evidence: "Die Kohle ist bereits auf Ihrem Konto." for "wann
        # ist die Kohle auf meinem Konto?" adds only "bereits", which the refunds article happens to use.
        # The exception: a short answer to "which fort was rebuilt in 1964?" ("Fort Caroline was rebuilt in
        # 1964.") adds only the answer itself, which a passage sentence about the question's subject holds.
        if match.missing or not match.polarity:
            return False
        if match.picks:  # "DHL bringt Ihre Sachen." for "dhl oder hermes?": the choice is the answer
            return True
        if match.shared < _MIN_SHARED and not match.answers:
            return False
        return match.lexical >= self._policy.min_lexical or match.semantic >= self._policy.min_semantic

    def _passage_vector(self, passage: str) -> list[float]:
        if passage not in self._vectors:
            if len(self._vectors) > 2048:
                self._vectors.clear()
            self._vectors[passage] = self._embedder.embed_documents([passage])[0]
        return self._vectors[passage]


@dataclass(frozen=True)
class _Match:
    """How well one passage supports a sentence."""

    article_id: str | None
    lexical: float
    semantic: float
    shared: int  # how many of the sentence's own word stems (not the question's) the passage has
    missing: list[str]  # the sentence's facts this passage lacks
    polarity: bool  # the passage says yes where the sentence says yes, no where it says no
    answers: bool = False  # its one own word stands in a passage sentence with the question's words
    picks: bool = False  # it names the option of an either-or question this passage names, and only its words


_NO_MATCH = _Match(None, 0.0, 0.0, 0, [], True)


def _closeness(match: _Match) -> float:
    return match.lexical + match.semantic  # the passage the sentence is about, whatever its facts


def _states_with(own: set[str], asked: set[str], passage: str, title: str) -> bool:
    """Does one passage sentence hold the sentence's own stems and at least two of the question's?

    A list item is read with the article's title and the passage's headings: "- **Apple Pay**" in
    "Payment methods we accept" states "we accept Apple Pay" (measured: "Yes, we accept Apple Pay." for
    "do u take apple pay" was dropped, and the customer handed off).
    """
    heading = passage[1 : passage.index("]")] if passage.startswith("[") and "]" in passage else ""
    heading = f"{title} {heading}"
    for part in split_sentences(passage) or [passage]:
        if _LIST_ITEM.match(part):
            part = f"{heading} {part}"
        stems = set(tokenize(part, _LANGUAGES))
        if own <= stems and len(asked & stems) >= 2:
            return True
    return False


def chosen_option(sentence: str, question: str) -> tuple[set[str], set[str]]:
    """The stems of the option an answer picks from an either-or question ("dhl oder hermes?") and of
    the one it leaves; both empty when the question offers no choice or the sentence names neither or both.

    Measured on the dev set: "DHL bringt Ihre Sachen." repeats only the customer's words, so it was
    dropped as restating the question, though the delivery article names DHL and no article names Hermes.
    """
    match = _CHOICE.search(question.strip())
    options = [set(tokenize(option, _LANGUAGES)) for option in match.groups()] if match else []
    if not all(options):  # no choice, or a stop word ("… oder so?")
        return set(), set()
    said = set(tokenize(sentence, _LANGUAGES))
    picked = [option for option in options if option & said]
    if len(picked) != 1:  # neither, or both ("nicht mit Hermes, sondern mit DHL")
        return set(), set()
    return picked[0], options[1 - options.index(picked[0])]


def _no_answer(sentence: str, passages: list[str]) -> list[str]:
    """Why the sentence gives no answer whatever its support: a gap left for a fact, a signpost to where
    the answer is, an offer of more help, an article named that no passage names."""
    found = [gap for gap in _GAP.findall(sentence) if not any(gap in p for p in passages)]
    if _SIGNPOST.match(sentence.strip("*_ ")):
        found.append("says where the answer is instead of giving it")
    if _PLEASANTRY.search(sentence) and not any(p.search(sentence) for p in (_EMAIL, _PHONE, _URL)):
        found.append("offers help instead of giving it")
    found.extend(
        f"names the article {name!r}"
        for name in _POINTER.findall(sentence)
        if not any(name.lower() in p.lower() for p in passages)
    )
    return found


def example_years(sentence: str, question: str, passage: str) -> list[str]:
    """The years of the article's example that a sentence answers with when the customer named another.

    Measured on the dev set: "hab zu weihnachten 2025 nen gutschein geschenkt bekommen, bis wann gilt
    der" → "Der Gutschein ist bis zum 31.12.2029 gültig.", from "Ein im Jahr 2026 gekaufter Gutschein
    gilt also bis zum 31.12.2029." The date is in the passage, but for a voucher bought in 2026.
    """
    asked = set(_YEAR.findall(question))
    told = set(_YEAR.findall(sentence)) - asked  # "Ihr Gutschein von 2025 gilt bis 2029": 2029 is told
    if not asked or not told:
        return []
    for part in split_sentences(passage):
        stated = set(_YEAR.findall(part))
        # A passage sentence that names the customer's year is about their case ("… was rebuilt in 1964").
        if told <= stated and not stated & asked and stated - told:
            return [f"the article's example for {year}" for year in sorted(stated - told)]
    return []


def foreign_terms(sentence: str, question: str, passages: list[str]) -> list[str]:
    """Words of the sentence that come from the question but occur in none of the passages."""
    asked = set(tokenize(question, _LANGUAGES))
    known = set(tokenize("\n".join(passages), _LANGUAGES))
    return [word for word, stems in words_asked(_WORD.findall(sentence.lower()), asked) if not stems & known]


def unsupported_facts(sentence: str, corpus: str) -> list[str]:
    """Numbers, prices, durations, dates, e-mails, phone numbers and URLs not found in the corpus."""
    missing: list[str] = []
    # "bis zum 31. Dezember 2029" states what "bis 31.12.2029" does.
    sentence, corpus = numeric_dates(sentence), numeric_dates(corpus)
    lowered = corpus.lower()
    rest = _LIST_NUMBER.sub("", sentence)  # "2. Open your orders": the 2 numbers the step, it is no fact
    for pattern in (_URL, _EMAIL):
        for found in pattern.findall(rest):
            if found.lower().rstrip(".,;:!?") not in lowered:
                missing.append(found)
        rest = pattern.sub(" ", rest)
    # A phone number supports only itself: "30" in "+49 30 1234 5678" is no evidence for "30 days".
    corpus_digits = {_digits(m) for m in _PHONE.findall(corpus)} | {
        _digits(m) for m in [*_NUMBER.findall(_PHONE.sub(" ", corpus)), *date_parts(corpus)]
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
