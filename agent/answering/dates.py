"""Calendar dates written in words or in digits, brought to one form so the guard can compare them."""

from __future__ import annotations

import re

_MONTH_NAMES = [
    ("januar", "jänner", "january"),
    ("februar", "february"),
    ("märz", "march"),
    ("april",),
    ("mai", "may"),
    ("juni", "june"),
    ("juli", "july"),
    ("august",),
    ("september",),
    ("oktober", "october"),
    ("november",),
    ("dezember", "december"),
]
_MONTH_NUMBERS = {name: number for number, names in enumerate(_MONTH_NAMES, start=1) for name in names}
MONTH = "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
YEAR = r"(?:19|20)\d{2}"  # a year of the calendar, as the guard reads one
# "31. Dezember 2029", "31 december", "December 31, 2029" (capitalised: "you may 2" is no date), and
# "31.12.2029" only with its year ("kostet 4.05." is a price).
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})\.?\s+({MONTH})\b(?:\s+({YEAR})\b)?", re.I)
_MONTH_DAY_YEAR = re.compile(rf"\b({MONTH.title()})\s+(\d{{1,2}})\b(?:,?\s+({YEAR})\b)?")
_NUMERIC = re.compile(rf"\b(\d{{1,2}})\.(\d{{1,2}})\.({YEAR})\b")


def numeric_dates(text: str) -> str:
    """The text with every day-and-month date written as "D.M.YYYY" (or "D.M." without a year): "bis zum
    31. Dezember 2029", "until December 31, 2029" and "bis 31.12.2029" all read "31.12.2029"."""

    def numeric(day: str, month: int, year: str | None) -> str:
        return f"{int(day)}.{month}.{year or ''}"

    text = _DAY_MONTH_YEAR.sub(lambda m: numeric(m[1], _MONTH_NUMBERS[m[2].lower()], m[3]), text)
    text = _MONTH_DAY_YEAR.sub(lambda m: numeric(m[2], _MONTH_NUMBERS[m[1].lower()], m[3]), text)
    return _NUMERIC.sub(lambda m: numeric(m[1], int(m[2]), m[3]), text)


def date_parts(text: str) -> list[str]:
    """What each full date of an already numeric text states on its own: its day and month ("31.12.")
    and its year ("2029"); a passage saying "31.12.2029" supports "bis 2029" and "bis zum 31.12."."""
    return [part for m in _NUMERIC.finditer(text) for part in (f"{m[1]}.{m[2]}.", m[3])]
