"""A source article → the text of its draft file: full front matter (status draft) and the Markdown body."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date
from typing import Literal

import yaml

from agent.answering.language import detect_language
from agent.importing.model import SourceArticle

Language = Literal["de", "en", "auto"]
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
COLLECTION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
MAX_SLUG = 60


def slug(text: str, limit: int = MAX_SLUG) -> str:
    """Lower-case ASCII words joined by '-', German umlauts spelt out ("Rücksendung" → "ruecksendung")."""
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_text).strip("-")[:limit].strip("-")


def article_id(kind: str, source_id: str) -> str:
    """A stable article id from the source kind and its id: readable, unique, at most 100 characters.

    Long or unreadable source ids get a short hash of the full id, so two sources never share an id.
    """
    readable = slug(source_id, limit=70)
    exact = _NOT_SLUG.sub("-", source_id.lower()).strip("-") == readable
    if not readable or not exact:
        readable = (readable + "-" if readable else "") + hashlib.sha256(source_id.encode()).hexdigest()[:8]
    return f"{kind}-{readable}"


def file_name(article: SourceArticle, kind: str) -> str:
    """Readable, deterministic file name: slug of the title, then the article id."""
    ident = article_id(kind, article.source_id)
    title = slug(article.title, limit=50)
    return f"{title}--{ident}.md" if title else f"{ident}.md"


def resolve_language(article: SourceArticle, wanted: Language) -> str:
    """`--language` wins; else the source's own locale (de/en); else detected from the text."""
    if wanted != "auto":
        return wanted
    if article.language in ("de", "en"):
        return article.language
    return detect_language(article.title + "\n" + article.markdown)


def draft_text(article: SourceArticle, kind: str, collection: str, language: Language, today: date) -> str:
    """The full file: front matter (id, title, language, collection, audience, status draft, url,
    updated) and the body, starting with the title as a heading."""
    meta: dict[str, object] = {
        "id": article_id(kind, article.source_id),
        "title": " ".join(article.title.split())[:200],
        "language": resolve_language(article, language),
        "collection": collection,
        "audience": article.audience,
        "status": "draft",
    }
    if article.url and re.match(r"^https?://\S+$", article.url):
        meta["url"] = article.url
    meta["updated"] = article.updated or today
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000).strip()
    body = article.markdown.strip()
    if not body.startswith("# "):
        body = f"# {meta['title']}\n\n{body}"
    return f"---\n{front}\n---\n{body}\n"


def source_hash(article: SourceArticle, kind: str, collection: str, language: Language) -> str:
    """Hash of what the source says, independent of the day of the import (a source without a date
    would otherwise look changed every day)."""
    text = draft_text(article, kind, collection, language, today=date(1970, 1, 1))
    return hashlib.sha256(text.encode()).hexdigest()
