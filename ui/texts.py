"""The chat page's texts per UI language (ui/locales/<code>.toml), and which language a visitor gets."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from agent.errors import ConfigError

LOCALES = Path(__file__).resolve().parent / "locales"
FALLBACK = "en"


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every UI language's texts, by two-letter code. Each file must have every key English has."""
    languages = {}
    for path in sorted(LOCALES.glob("*.toml")):
        try:
            languages[path.stem] = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"ui/locales/{path.name} cannot be read: {exc}") from None
    keys = set(languages[FALLBACK])
    for code, texts in languages.items():
        missing = sorted(keys - set(texts))
        if missing:
            raise ConfigError(f"ui/locales/{code}.toml lacks {', '.join(missing)} (every key of en.toml)")
    return languages


def texts(language: str) -> dict[str, str]:
    """The texts of a UI language (English for one without a file)."""
    languages = catalogue()
    return languages.get(language, languages[FALLBACK])


def visitor_language(query_lang: str | None, accept_language: str | None) -> str:
    """?lang=xx when we have that language, else the first of the browser's languages (Accept-Language,
    by weight) that we have, else English."""
    available = catalogue()
    if query_lang and query_lang.strip().lower() in available:
        return query_lang.strip().lower()
    weighted = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        code = tag.strip().lower()[:2]
        if code in available and weight > 0:
            weighted.append((-weight, position, code))
    return min(weighted)[2] if weighted else FALLBACK
