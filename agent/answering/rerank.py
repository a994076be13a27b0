"""Reranking by the model: which of retrieval's first articles explains the customer's question best."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from agent.answering.generation import Prompt
from agent.knowledge.retrieval import Source

ARTICLE_CHARS = 1500  # of an article the model reads to rerank (~400 tokens)


class ModelReranker:
    """Asks the chat model how likely it finds the question after each candidate article."""

    def __init__(
        self,
        likelihood: Callable[[Prompt], float | None],
        article_passages: Callable[[str, int], list[str]],
        prompt: Callable[[str, list[Source], str], Prompt],
        *,
        margin: float,
        candidates: int = 3,
    ) -> None:
        self._likelihood = likelihood
        self._article_passages = article_passages
        self._prompt = prompt
        self._margin = margin
        self._candidates = candidates

    def rerank(self, question: str, sources: list[Source], language: str) -> list[Source] | None:
        """None when the model was not asked (the rankings agree, one candidate); else the covered
        sources, or only the candidate the model finds explains the question clearly better than
        retrieval's first (by more than `margin`, mean log-probability per question token), with the
        passages the model read to rerank: the answer then starts from the state kept of that reading,
        and the model has the whole article (up to the limit) rather than the one passage retrieval
        gave an article that was not first. When retrieval's first is in the customer's language, only
        articles in their language are candidates."""
        pool = sources
        if sources and sources[0].language == language:
            # Another language's version of an article explains the question about as well as the
            # customer's own (multilingual model), and then the answer must come from a text the guard
            # checks in another language: measured on the dev set, "what cookies does your site set, do i
            # have to accept tracking?" was answered from the German newsletter article and handed off.
            pool = [sources[0], *(s for s in sources[1:] if s.language == language)]
        candidates = pool[: self._candidates]
        if len(candidates) < 2 or candidates[0].first_everywhere:
            return None  # dense search, BM25 and the generated questions all put it first
        # Each candidate is read whole (up to a limit) rather than by the passages found for this question:
        # the same text for every customer, so its model state comes from the prefix cache after once.
        read_whole = self._article_passages
        whole = [replace(c, passages=read_whole(c.article_id, ARTICLE_CHARS)) for c in candidates]
        read = [self._likelihood(self._prompt(question, [c], language)) for c in whole]
        scores = [score for score in read if score is not None]
        if len(scores) < len(read):
            return sources
        best = max(range(len(scores)), key=lambda i: scores[i])
        if best and scores[best] - scores[0] > self._margin:
            return [whole[best]]
        return sources
