"""Price questions: what a customer asks "how much?" of is answered only by a text that states an amount.

The small model answers a price question with whatever its passage says about the topic: "how much is
delivery within Germany?" got "Delivery within Germany usually takes 1-3 business days." (true, cited,
and no answer). A sentence or quote with no amount and no "free" does not answer such a question.
"""

from __future__ import annotations

import re

_ASKS_PRICE = re.compile(
    r"\b(?:(?<!by )how much (?:is|are|does|do|did|will|would|was|were)\b(?!.*\b(?:time|long|days?|weeks?)\b)"
    r"|what (?:does|do|did|will) .{0,40}\bcost"
    r"|(?:price|cost|fee|charge)s? (?:of|for)\b"
    r"|was (?:kostet|kosten|kostete)\b|wie ?viel\b.{0,30}\b(?:kost|zahl|bezahl)|wie teuer"
    r"|\bkostet\b.{0,40}\b(?:was|etwas)\b|\bcosts? (?:anything|extra|money)\b"
    r"|ab welchem (?:bestellwert|betrag|wert)|(?:above|from|over) what (?:order )?(?:amount|value)"
    r"|mindestbestellwert|minimum order)",
    re.I,
)
_STATES_PRICE = re.compile(
    r"\d\s*(?:€|\$|£|eur\b|euro|dollar|pfund|pound|cent|franken|chf)|[€$£]\s*\d|\b(?:eur|chf|usd)\s*\d"
    r"|\b(?:kostenlos|kostenfrei|gratis|umsonst|free|nothing|nichts|no charge|no cost"
    r"|keine? (?:gebühr|kosten|versandkosten))",
    re.I,
)


def asks_price(question: str) -> bool:
    """Does the customer ask what something costs ("how much is …", "was kostet …", "ab welchem
    Bestellwert …")? Not "how much time …" nor "by how much …"."""
    return bool(_ASKS_PRICE.search(question))


def states_price(text: str) -> bool:
    """Does the text state an amount of money, or that something is free?"""
    return bool(_STATES_PRICE.search(text))
