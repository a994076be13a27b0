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
    "rücksendung umtausch versand zahlung garantie daten löschen ändern".split()
)
_ENGLISH = frozenset(
    "the a an i you he she we they my your our is are am was were be been have has had can could "
    "will would should must do does did not no and or but how what when where why which who with "
    "for from at on in of to by about into it this that there please thanks hello hi long much "
    "money back order ordered parcel package delivery invoice account password return refund "
    "exchange shipping payment warranty data delete change".split()
)


def detect_language(text: str, default: str = "en") -> str:
    """Return 'de' or 'en' for a message; `default` when there is no signal."""
    lowered = text.lower()
    words = _WORD.findall(lowered)
    german = sum(w in _GERMAN for w in words) + 2 * len(re.findall(r"[äöüß]", lowered))
    english = sum(w in _ENGLISH for w in words)
    if german == english:
        return default
    return "de" if german > english else "en"
