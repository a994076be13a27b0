"""BM25 over article passages with per-language Snowball stemming (bm25s + PyStemmer)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_GERMAN

_WORD = re.compile(r"\w+", re.UNICODE)
_SNOWBALL = {"de": "german", "en": "english", "fr": "french", "nl": "dutch", "it": "italian", "es": "spanish"}
QUERY_LANGUAGES = ("de", "en")
# Customers mix languages, so both lists apply to every text; BM25 gains nothing from "the" or "ich".
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | frozenset(STOPWORDS_GERMAN)


@lru_cache(maxsize=16)
def _stemmer(language: str) -> Stemmer.Stemmer | None:
    name = _SNOWBALL.get(language)
    return Stemmer.Stemmer(name) if name else None


def tokenize(text: str, languages: Sequence[str]) -> list[str]:
    """Lower-case word stems of text in each of the given languages (German folds umlauts: ü→u)."""
    words = [w.replace("ß", "ss") for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]
    stems: list[str] = []
    for language in languages:
        stemmer = _stemmer(language)
        stems.extend(stemmer.stemWords(words) if stemmer else words)
    return list(dict.fromkeys(stems)) if len(languages) > 1 else stems


class LexicalIndex:
    """BM25 scores of a fixed list of passages, each tokenised in its own language."""

    def __init__(self, texts: Sequence[str], languages: Sequence[str]) -> None:
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        corpus = [tokenize(t, [lang]) or ["\u2205"] for t, lang in zip(texts, languages, strict=True)]
        if corpus:
            self._bm25.index(corpus, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """One BM25 score per passage (0 where no query word occurs). Queries match German and English."""
        if not self.size:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokenize(query, QUERY_LANGUAGES)), dtype=np.float32)
