"""Yes or no: whether an answer sentence and the article's statements agree in polarity."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.answering.sentences import split_sentences
from agent.knowledge.lexical import QUERY_LANGUAGES, tokenize

_WORD = re.compile(r"\w+")
YES_NO = frozenset(tokenize("yes yeah yep ja nein doch", QUERY_LANGUAGES))
_ANSWERS = frozenset("yes yeah yep sure ja jein nein no klar doch".split())  # words that open a yes/no answer
# "no" and "nein" count only at the start of a sentence ("no fee" is not an answer to a yes/no question).
_NEGATIONS = frozenset(
    "not never none nothing cannot nicht nie niemals kein keine keinen keinem keiner keines nichts".split()
)


@dataclass(frozen=True)
class Denial:
    """What the passages say against a yes/no answer sentence."""

    # words of the question the answer is about that the passages mention only with the opposite polarity
    words: list[str]
    # (article id, statement) that say no where the answer says yes, when every question word it repeats
    # stands only in such statements: the article's own answer
    statements: tuple[tuple[str, str], ...] = ()


def agrees(sentence: str, passage: str) -> bool:
    """Does the passage sentence closest to this one say it with the same polarity (yes vs not)?"""
    stems = set(tokenize(sentence, QUERY_LANGUAGES))
    # A question in the article ("Passwort vergessen oder können Sie sich nicht mehr anmelden?") or a
    # "[heading]" states nothing, so its "nicht" must not make every answer about the topic a "no".
    found = statements(passage)
    closest = max(found or [passage], key=lambda s: len(stems & set(tokenize(s, QUERY_LANGUAGES))))
    return negative(sentence) == negative(closest)


def denied(sentence: str, question: str, passages: list[tuple[str, str]]) -> Denial:
    """Words of the customer's question that a yes (or no) answer is about, but that the passages
    mention only in statements of the opposite polarity; and for a yes whose every such word is denied,
    the statements that say no.

    Measured on the dev set: "geht auch nachnahme?" → "Ja, wir akzeptieren auch Zahlungen per Nachnahme."
    was kept (and cited) because the passage sentence closest to it was "Wir akzeptieren ausschließlich
    Zahlungen in Euro" – the two that mention Nachnahme say "Keine Zahlung per Nachnahme." and
    "Nachnahme ist nicht möglich." Only a sentence that opens with yes or no is asked: in other sentences
    a common word ("kostet", "erst") is often mentioned only in one negative statement by chance.

    The statements are the article's answer ("Keine Zahlung per Nachnahme."), but not when a word the
    answer repeats stands in a statement that says yes (measured: "kann man bei euch mit paypal zahlen" →
    "Ja, Sie können mit PayPal zahlen." with the invoice article's "… dann entstehen Ihnen keine
    zusätzlichen Kosten" as the only "zahlen", while another article names PayPal as accepted), and never
    for a no-answer: a positive statement that merely mentions the question's word is seldom the answer.
    """
    words = _WORD.findall(sentence.lower())
    if not question or not words or words[0] not in _ANSWERS:
        return Denial([])
    said_no = negative(sentence)
    passage_statements = [
        (article_id, part, set(tokenize(part, QUERY_LANGUAGES)), negative(part))
        for article_id, passage in passages
        for part in statements(passage)
        if not part.startswith("[")  # a heading
    ]
    asked = set(tokenize(question, QUERY_LANGUAGES)) - YES_NO
    mentions = {
        word: [
            (article_id, part, no) for article_id, part, stated, no in passage_statements if stems & stated
        ]
        for word, stems in words_asked(words[1:], asked)
    }
    mentions = {word: found for word, found in mentions.items() if found}
    opposed = [word for word, found in mentions.items() if all(no != said_no for *_, no in found)]
    if said_no or len(opposed) != len(mentions):
        return Denial(opposed)
    return Denial(
        opposed,
        tuple(
            dict.fromkeys((article_id, part) for found in mentions.values() for article_id, part, _ in found)
        ),
    )


def negative(text: str) -> bool:
    """Does the text say no (opens with no/nein, or negates)?"""
    words = _WORD.findall(text.lower().replace("n't", " not"))
    return bool(words) and (words[0] in ("no", "nein") or any(w in _NEGATIONS for w in words))


def words_asked(words: list[str], asked: set[str]) -> list[tuple[str, set[str]]]:
    """The distinct words (with their stems) that a sentence takes from the customer's question."""
    stemmed = ((word, set(tokenize(word, QUERY_LANGUAGES))) for word in dict.fromkeys(words))
    return [(word, stems) for word, stems in stemmed if stems & asked]


def statements(passage: str) -> list[str]:
    """A passage's sentences that state something: a question in the article states nothing."""
    return [part for part in split_sentences(passage) if not part.rstrip("]").endswith("?")]
