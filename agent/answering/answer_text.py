"""How the sentences the guard kept become the text a customer reads, or a passage is quoted instead."""

from __future__ import annotations

import re

from agent.answering.guard import Verdict
from agent.answering.prices import asks_price, states_price
from agent.knowledge.retrieval import Source

_LIST_ITEM = re.compile(r"^[-*•]\s+")


def without_dangling_intro(kept: list[Verdict]) -> tuple[list[Verdict], list[Verdict]]:
    """The kept sentences split before a last one that only introduces what follows ("So geht's:"): the
    guard dropped what it introduced, and alone it answers nothing. (A longer one ending in a colon,
    "You have 30 days to send items back:", still says something and stays.)"""
    end = len(kept)
    while end and _only_introduces(kept[end - 1].sentence):
        end -= 1
    return kept[:end], kept[end:]


def _only_introduces(sentence: str) -> bool:
    return sentence.rstrip(" *_").endswith(":") and len(sentence.split()) <= 5


def repeats(sentence: str, kept: list[Verdict], removed: list[Verdict]) -> bool:
    """True when the sentence was already said (kept or dropped), ignoring case and spacing."""
    key = " ".join(sentence.lower().split())
    return any(key == " ".join(v.sentence.lower().split()) for v in [*kept, *removed])


def join_kept(kept: list[Verdict]) -> str:
    """The kept sentences as one text, list items on lines of their own."""
    text = ""
    for verdict in kept:
        list_item = verdict.sentence[:2] in ("- ", "* ") or verdict.sentence[:3].rstrip(". ").isdigit()
        text += ("\n" if list_item else " ") + verdict.sentence
    return text.strip()


def rests_on(kept: list[Verdict], source: Source) -> bool:
    """Does a kept sentence have this article among those that support it?"""
    return any(source.article_id in (v.source_id, *v.also) for v in kept)


def quote(source: Source, limit: int = 400, passage: str | None = None) -> str:
    """The source's first passage (or the given part of it), quoted, for when nothing the model wrote
    answers the question: the one retrieval found best for it, or the article's beginning when the model
    read it whole to rerank."""
    if passage is None:
        passage = source.passages[0] if source.passages else ""
    passage = _LIST_ITEM.sub("", passage)  # a statement that is a list item: "- **Keine Zahlung …**"
    if passage.startswith("["):  # drop the "[heading path]" line retrieval adds for the model
        passage = passage.split("\n", 1)[-1]
    passage = " ".join(passage.split())
    if len(passage) > limit:
        passage = passage[:limit].rsplit(" ", 1)[0] + " …"
    return f"{source.title}: „{passage}“" if source.language == "de" else f'{source.title}: "{passage}"'


def worth_quoting(top: Source, question: str, min_relevance: float, *, strict: bool) -> bool:
    """Is retrieval sure enough of the best article to quote it when the model gave no kept answer, and
    does its passage state a price when the customer asks one?

    Two of its three rankings must put it in their first two: one high cosine alone quoted the returns
    article for "what's the code word for returns after 30 days?". When every ranking puts it first, a
    lower cosine will do: another help center's articles (long, encyclopedic) score lower throughout.
    `strict` (the model said the articles do not cover it): the cosine must be high as well – the small
    model says so of articles it misreads, but also of questions that merely share a topic with one.
    """
    if top.ranked_within(2) < 2 or (asks_price(question) and not states_price(quote(top))):
        return False
    return top.score >= min_relevance or (top.first_everywhere and not strict)
