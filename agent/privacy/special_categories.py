"""Spot likely special categories of personal data (GDPR Art. 9) in a customer message, by word lists.

A listed word matches every form with the same Snowball stem ("Diabetiker" and "diabetisch" both stem to
"diabet"); German words also match as part of a compound, split as the search index splits them
("Gewerkschaftsmitglied", "Brustkrebs"). A word marked with a leading "=" matches only in exactly that
form, neither stemmed nor inside a compound: "disability" would otherwise stem like "disabled" (an account
can be disabled), "Behinderung" would match "Lieferbehinderung", "krank" would match "Krankenkasse". An
entry of several words matches as a phrase ("trade union", "heart attack"). Customers mix languages, so
every text is read in both.

Left out on purpose, because ordinary shop questions use them: "health", "sick", "ill", "disabled" alone,
"union" alone, "hearing aid", "allergy", "vegan", "halal", "kosher", "Glaube" ("glaube ich"),
"church"/"Kirche" (street names), "race" and "Herkunft" (of products), "Hautfarbe" (cosmetics), first
names ("Christian", "Christin", "Jude" alone in English).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import Stemmer

from agent.knowledge.lexical import compound_parts

# The categories found, in this order; the redaction statistics count them as ART9_<category>.
CATEGORIES = ("HEALTH", "RELIGION", "UNION", "SEXUAL_ORIENTATION", "ETHNICITY")
STATISTICS_PREFIX = "ART9_"

WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "HEALTH": {
        "de": (
            "Diabetes", "diabetisch", "Diabetiker", "schwanger", "Schwangerschaft", "HIV", "Krebs",
            "Tumor", "Chemotherapie", "Depression", "depressiv", "Angststörung", "Burnout", "psychisch",
            "Psychiatrie", "=Behinderung", "=Behinderungen", "=behindert", "schwerbehindert",
            "Schwerbehinderung", "Behindertenausweis", "Rollstuhl", "Krankheit", "Erkrankung", "erkrankt",
            "=krank", "Krankenhaus", "Medikament", "Asthma", "Epilepsie", "Demenz", "Alzheimer",
            "Parkinson", "Autismus", "Autist", "ADHS", "Herzinfarkt", "Schlaganfall", "Covid",
            "Pflegegrad", "diagnostiziert", "gehörlos", "sehbehindert", "Insulin",
        ),
        "en": (
            "diabetes", "diabetic", "pregnant", "pregnancy", "HIV", "cancer", "tumour", "tumor",
            "chemotherapy", "depression", "depressed", "anxiety disorder", "mental health",
            "mental illness", "psychiatric", "=disability", "=disabilities", "handicapped",
            "i am disabled", "i'm disabled", "disabled person", "disabled people", "wheelchair",
            "=illness", "=illnesses", "disease", "=diagnosed", "hospital", "=medication", "=medications",
            "asthma", "epilepsy", "dementia", "alzheimer", "parkinson", "autism", "autistic", "ADHD",
            "heart attack", "covid", "deaf", "visually impaired", "insulin", "chronic pain",
        ),
    },
    "RELIGION": {
        "de": (
            "Religion", "religiös", "Muslim", "Muslimin", "Moslem", "Islam", "islamisch", "=Christ",
            "christlich", "katholisch", "Katholik", "evangelisch", "protestantisch", "jüdisch", "Jude",
            "Jüdin", "Judentum", "Hindu", "Buddhist", "buddhistisch", "Atheist", "Atheistin",
            "Konfession", "Kirchensteuer", "Moschee", "Synagoge", "Ramadan", "=Sabbat",
        ),
        "en": (
            "religion", "religious", "muslim", "islam", "islamic", "a christian", "am christian",
            "christian faith", "catholic", "=protestant", "jewish", "jew", "judaism", "hindu", "buddhist",
            "sikh", "atheist", "mosque", "synagogue", "ramadan", "sabbath",
        ),
    },
    "UNION": {
        "de": ("Gewerkschaft", "Gewerkschafter", "Gewerkschafterin", "IG Metall", "ver di"),
        "en": (
            "trade union", "labour union", "labor union", "union member", "union membership",
            "=unionised", "=unionized", "shop steward",
        ),
    },
    "SEXUAL_ORIENTATION": {
        "de": ("schwul", "lesbisch", "Lesbe", "bisexuell", "homosexuell", "heterosexuell", "queer"),
        "en": (
            "gay", "lesbian", "bisexual", "homosexual", "heterosexual", "queer", "sexual orientation",
        ),
    },
    "ETHNICITY": {
        "de": (
            "ethnisch", "Ethnie", "Migrationshintergrund", "Sinti", "afrodeutsch",
            "indigen",
        ),
        "en": (
            "ethnic", "ethnicity", "migrant background", "person of colour", "person of color",
            "people of colour", "people of color", "indigenous", "aboriginal",
        ),
    },
}  # fmt: skip

_WORD = re.compile(r"\w+", re.UNICODE)
_SNOWBALL = {"de": "german", "en": "english"}
_EXACT = "="  # a leading "=": this form only (see above)


@cache
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(_SNOWBALL[language])


def _words(text: str) -> list[str]:
    return [w.replace("ß", "ss") for w in _WORD.findall(text.lower())]


def _stems(words: list[str], language: str) -> tuple[str, ...]:
    return tuple(_stemmer(language).stemWords(words))


@dataclass(frozen=True)
class _Entries:
    """One category's list in one language, prepared for matching."""

    stemmed: frozenset[tuple[str, ...]]  # stems of each entry (one or several words)
    exact: frozenset[tuple[str, ...]]  # the "=" entries, as written (lower case)
    in_compounds: frozenset[str]  # stems that also count as part of a German compound


@cache
def _lists() -> dict[str, dict[str, _Entries]]:
    lists: dict[str, dict[str, _Entries]] = {}
    for category, by_language in WORDS.items():
        lists[category] = {}
        for language, entries in by_language.items():
            stemmed, exact, in_compounds = set(), set(), set()
            for entry in entries:
                if entry.startswith(_EXACT):
                    exact.add(tuple(_words(entry[1:])))
                    continue
                stems = _stems(_words(entry), language)
                stemmed.add(stems)
                if language == "de" and len(stems) == 1:
                    in_compounds.add(stems[0])
            lists[category][language] = _Entries(
                frozenset(stemmed), frozenset(exact), frozenset(in_compounds)
            )
    return lists


def detect(text: str) -> list[str]:
    """The categories (of `CATEGORIES`) the text likely holds data of, [] for none."""
    words = tuple(_words(text))
    if not words:
        return []
    stems = {language: _stems(list(words), language) for language in _SNOWBALL}
    parts = set(_stems([p for w in words for p in compound_parts(w)], "de"))
    found = []
    for category in CATEGORIES:
        for language, entries in _lists()[category].items():
            if (
                _contains(stems[language], entries.stemmed)
                or _contains(words, entries.exact)
                or not parts.isdisjoint(entries.in_compounds)
            ):
                found.append(category)
                break
    return found


def _contains(sequence: tuple[str, ...], entries: frozenset[tuple[str, ...]]) -> bool:
    """True when one of the entries occurs in the sequence as consecutive items."""
    present = set(sequence)
    for entry in entries:
        if len(entry) == 1:
            if entry[0] in present:
                return True
        elif any(sequence[i : i + len(entry)] == entry for i in range(len(sequence) - len(entry) + 1)):
            return True
    return False


def statistics(categories: list[str]) -> dict[str, int]:
    """The redaction-statistics counts for one message: one per category found (ART9_HEALTH: 1 …)."""
    return {f"{STATISTICS_PREFIX}{c}": 1 for c in categories}
