"""Replace personal data in customer messages by typed placeholders before anything else sees the text.

Libraries decide wherever one exists: `phonenumbers` finds phone numbers, `python-stdnum` validates
IBANs, card numbers (Luhn), EU VAT numbers and German tax ids. Regular expressions only propose
candidates (and find e-mail addresses, IP addresses, street addresses and introduced names, for which
no library does the job); a candidate that fails validation is left alone, so order numbers, prices,
dates and article ids survive.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn
from stdnum.de import idnr
from stdnum.eu import vat

# Every type the redactor knows, in the order they are looked for (the first match of a span wins).
REDACTION_TYPES = ("EMAIL", "IBAN", "CARD", "VAT", "TAX_ID", "IP", "PHONE", "ADDRESS", "NAME")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b", re.IGNORECASE)
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_VAT = re.compile(r"\b(?:ATU|[A-Z]{2})[ ]?\d[\dA-Z ]{6,13}\d\b")
_TAX_ID = re.compile(r"\b\d{2}[ ]?\d{3}[ ]?\d{3}[ ]?\d{3}\b")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])")
_STREET_WORDS = (
    r"(?:stra(?:ss|ß)e|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|steig|pfad|markt"
    r"|street|st\.|road|rd\.|avenue|ave\.|lane|drive|way|close|square)"
)
_ADDRESS = re.compile(
    # German order: "Lindenstraße 12a" / "Am Markt 3", optionally ", 10115 Berlin"
    rf"\b(?:[A-ZÄÖÜ][\wäöüß.-]*\s)?[A-ZÄÖÜ]?[\wäöüß-]*{_STREET_WORDS}\s\d{{1,4}}[a-zA-Z]?\b"
    r"(?:,?\s\d{4,5}\s[A-ZÄÖÜ][\wäöüß-]+)?"
    # English order: "221B Baker Street"
    rf"|\b\d{{1,4}}[A-Za-z]?\s(?:[A-Z][a-z]+\s){{1,3}}{_STREET_WORDS}(?!\w)",
    re.IGNORECASE,
)
_NAME = re.compile(
    # the introduction in any case, the name itself capitalised (so "this is about …" is no name)
    r"\b(?i:my name is|i am called|this is|ich heiße|ich heisse|mein name ist|hier ist|hier spricht)"
    r"\s+([A-ZÄÖÜ][a-zäöüß'-]+(?:\s[A-ZÄÖÜ][a-zäöüß'-]+){0,2})"
)


@dataclass(frozen=True)
class Redaction:
    """A message after redaction: the text with placeholders and how many of each type were removed."""

    text: str
    found: dict[str, int]


Finder = Callable[[str], Iterator[tuple[int, int]]]


class Redactor:
    """Finds personal data of the configured types and replaces each span by `[TYPE]`."""

    def __init__(self, types: Iterable[str] = REDACTION_TYPES, phone_region: str = "DE") -> None:
        unknown = sorted(set(types) - set(REDACTION_TYPES))
        if unknown:
            raise ValueError(f"unknown redaction types {unknown}; known: {', '.join(REDACTION_TYPES)}")
        finders: dict[str, Finder] = {
            "EMAIL": _regex_spans(_EMAIL),
            "IBAN": _validated_spans(_IBAN, lambda s: iban.is_valid(s)),
            "CARD": _validated_spans(_CARD, _is_card),
            "VAT": _validated_spans(_VAT, lambda s: vat.is_valid(s)),
            "TAX_ID": _validated_spans(_TAX_ID, lambda s: idnr.is_valid(s)),
            "IP": _validated_spans(_IPV4, _is_ip, _IPV6),
            "PHONE": lambda text: _phone_spans(text, phone_region),
            "ADDRESS": _regex_spans(_ADDRESS),
            "NAME": _group_spans(_NAME),
        }
        self.types = tuple(t for t in REDACTION_TYPES if t in set(types))
        self._finders = [(t, finders[t]) for t in self.types]

    def redact(self, text: str) -> Redaction:
        """The text with every found span replaced; overlapping finds keep the earlier type."""
        taken: list[tuple[int, int, str]] = []
        for kind, find in self._finders:
            for start, end in find(text):
                if not any(start < e and s < end for s, e, _ in taken):
                    taken.append((start, end, kind))
        out, last = [], 0
        for start, end, kind in sorted(taken):
            out.append(text[last:start] + f"[{kind}]")
            last = end
        out.append(text[last:])
        return Redaction("".join(out), dict(Counter(kind for *_, kind in taken)))


def _regex_spans(pattern: re.Pattern[str]) -> Finder:
    return lambda text: ((m.start(), m.end()) for m in pattern.finditer(text))


def _group_spans(pattern: re.Pattern[str]) -> Finder:
    return lambda text: ((m.start(1), m.end(1)) for m in pattern.finditer(text))


def _validated_spans(
    pattern: re.Pattern[str], is_valid: Callable[[str], bool], *more: re.Pattern[str]
) -> Finder:
    def find(text: str) -> Iterator[tuple[int, int]]:
        for each in (pattern, *more):
            for m in each.finditer(text):
                if is_valid(m.group()):
                    yield m.start(), m.end()

    return find


def _is_card(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    # Payment cards start with 2-6 (Mastercard, Visa, Amex, Discover, Maestro); EAN barcodes and
    # tracking numbers that happen to pass Luhn mostly do not.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn.is_valid(digits)


def _is_ip(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    # "1.2.3.4"-shaped version numbers are rare in support chats; any valid address is treated as one.
    return not (address.version == 6 and candidate.count(":") < 2)


def _phone_spans(text: str, region: str) -> Iterator[tuple[int, int]]:
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        yield match.start, match.end
