"""Tell German from English in short customer messages (the two languages we serve first)."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-zäöüß]+")
_GERMAN = frozenset(
    "der die das den dem des ein eine einen einem ich du sie wir ihr mein meine meinen mir mich "
    "ist sind bin war wurde wird werden habe hat haben kann können konnte muss müssen soll möchte "
    "nicht kein keine keinen noch auch aber oder und wie was wann wo warum wieso welche welcher "
    "mit für von bei nach über auf aus zum zur im am um bis ohne gibt es schon bitte danke hallo "
    "lange kostet kosten geld zurück bestellung bestellt paket lieferung rechnung konto passwort "
    "rücksendung umtausch versand zahlung garantie daten löschen ändern "
    "vom beim ins ans dass weil wenn hab da man euch uns eigentlich jetzt mal nur sehr sich "
    "welchem welchen welches wer wen wem wessen worauf wogegen wozu woher wohin weshalb viele "
    "jahr jahren wurden sein seine seiner ihre ihren zu einige oft".split()
)
_ENGLISH = frozenset(
    "the a an i you he she we they my your our is are am was were be been have has had can could "
    "will would should must do does did not no and or but how what when where why which who with "
    "for from at on of to by about into it this that there please pls thanks hello hi long much "
    "money back order ordered parcel package delivery invoice account password return refund "
    "exchange shipping payment warranty data delete change".split()
)


def detect_language(text: str, default: str = "en") -> str:
    """Return 'de' or 'en' for a message; `default` when there is no signal."""
    german, english = _signals(text)
    if german == english:
        return default
    return "de" if german > english else "en"


def written_in_other_language(sentence: str, language: str) -> bool:
    """Is this sentence plainly in the other of our two languages (not merely quoting a term of it)?"""
    if language not in ("de", "en"):
        return False
    german, english = _signals(sentence)
    own, other = (german, english) if language == "de" else (english, german)
    return other >= 3 and own <= 1


def _signals(text: str) -> tuple[int, int]:
    """German and English evidence: common words of each, and German letters."""
    lowered = text.lower()
    words = _WORD.findall(lowered)
    german = sum(w in _GERMAN for w in words) + 2 * len(re.findall(r"[äöüß]", lowered))
    return german, sum(w in _ENGLISH for w in words)


# Words that point back to something said before: a short question built on one of them needs the
# previous question's topic ("und wie lange dauert das?", "what does it cost?").
_POINTING = frozenset(
    "dafür dazu damit davon darauf daran dabei darüber dort dorthin dahin dies diese dieses dieser sowas "
    "it its this that these those there they them".split()
)
# German "das"/"es" point back only when no noun follows (German nouns are capitalised).
_POINTING_UNLESS_NOUN = frozenset({"das", "es", "dem", "den"})
_FOLLOW_UP_OPENERS = (
    "und ",
    "and ",
    "what about",
    "how about",
    "was ist mit",
    "wie ist es mit",
    "auch ",
    "also ",
)
_TOKEN = re.compile(r"\w+|[^\w\s]")


def needs_topic(question: str, max_words: int = 8) -> bool:
    """True for a short follow-up that only makes sense with the previous question ("und wie lange
    dauert das?", "what about Austria?"), False for a question that brings its own topic ("Wie wird
    das Wetter morgen?")."""
    tokens = _TOKEN.findall(question.strip())
    words = [t for t in tokens if t[0].isalnum()]
    if not words or len(words) > max_words:
        return False
    if question.strip().lower().startswith(_FOLLOW_UP_OPENERS):
        return True
    for index, token in enumerate(tokens):
        lowered = token.lower()
        if lowered in _POINTING:
            return True
        if lowered in _POINTING_UNLESS_NOUN:
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            if not following[:1].isupper():
                return True
    return False
