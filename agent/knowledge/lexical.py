"""BM25 over article passages with per-language Snowball stemming (bm25s + PyStemmer)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import bm25s
import numpy as np
import simplemma
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_GERMAN

_WORD = re.compile(r"\w+", re.UNICODE)
_SNOWBALL = {"de": "german", "en": "english", "fr": "french", "nl": "dutch", "it": "italian", "es": "spanish"}
QUERY_LANGUAGES = ("de", "en")
# Customers mix languages, so both lists apply to every text; BM25 gains nothing from "the" or "ich".
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | frozenset(STOPWORDS_GERMAN)
# Parts of a compound have at least this many letters ("Gutscheine" is not "gut" + "scheine").
_MIN_PART = 4


@lru_cache(maxsize=16)
def _stemmer(language: str) -> Stemmer.Stemmer | None:
    name = _SNOWBALL.get(language)
    return Stemmer.Stemmer(name) if name else None


def tokenize(text: str, languages: Sequence[str], *, compounds: bool = False) -> list[str]:
    """Lower-case word stems of text in each of the given languages (German folds umlauts: ü→u).

    With `compounds`, German words also yield the stems of their parts ("Rücksendeetikett" →
    "rucksend", "etikett"), so a customer's "Etikett" finds the article that says "Rücksendeetikett".
    """
    words = [w.replace("ß", "ss") for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]
    stems: list[str] = []
    for language in languages:
        stemmer = _stemmer(language)
        batch = (
            words + [p for w in words for p in compound_parts(w)] if compounds and language == "de" else words
        )
        stems.extend(stemmer.stemWords(batch) if stemmer else batch)
    return list(dict.fromkeys(stems)) if len(languages) > 1 else stems


@lru_cache(maxsize=65536)
def compound_parts(word: str) -> tuple[str, ...]:
    """The parts of a German compound that are German words themselves, () if it is none.

    "einkaufsgutschein" → ("einkauf", "gutschein"): the first split (shortest first part) whose tail is a
    known word and whose head is one too (or a compound of such), possibly after dropping a linking "s",
    "es", "n" or "en" ("Einkaufs-") or by adding the "n" a verb stem lost ("Liefer-" → "liefern").
    """
    if len(word) < 2 * _MIN_PART or not word.isalpha():
        return ()
    for cut in range(_MIN_PART, len(word) - _MIN_PART + 1):
        head, tail = word[:cut], word[cut:]
        if not _is_german_word(tail):
            continue
        for candidate in _head_forms(head):
            if len(candidate) >= _MIN_PART and (_is_german_word(candidate) or compound_parts(candidate)):
                return (candidate, *compound_parts(candidate), tail, *compound_parts(tail))
    return ()


def _head_forms(head: str) -> list[str]:
    forms = [head, head + "n"]
    for linking in ("s", "es", "n", "en"):
        if head.endswith(linking):
            forms.append(head[: -len(linking)])
    return forms


def _is_german_word(word: str) -> bool:
    return simplemma.is_known(word, lang="de")


class LexicalIndex:
    """BM25 scores of a fixed list of passages, each tokenised in its own language."""

    def __init__(self, texts: Sequence[str], languages: Sequence[str], *, compounds: bool = False) -> None:
        self.size = len(texts)
        self._compounds = compounds
        self._bm25 = bm25s.BM25()
        corpus = [
            tokenize(t, [lang], compounds=compounds) or ["\u2205"]
            for t, lang in zip(texts, languages, strict=True)
        ]
        if corpus:
            self._bm25.index(corpus, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """One BM25 score per passage (0 where no query word occurs). Queries match German and English."""
        if not self.size:
            return np.zeros(0, dtype=np.float32)
        query_tokens = tokenize(query, QUERY_LANGUAGES, compounds=self._compounds)
        return np.asarray(self._bm25.get_scores(query_tokens), dtype=np.float32)
