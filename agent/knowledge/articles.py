"""knowledge/**/*.md → validated Article objects (YAML front matter + Markdown body)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import KnowledgeError

MAX_ARTICLE_BYTES = 1_000_000
_HEADING = re.compile(r"^#{1,3}[ \t]+(\S.*)$", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)


# What each field must look like, in words a support lead understands (instead of the validator's regex).
_FIELD_RULES = {
    "id": "lower-case letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. en-returns)",
    "title": "a title of 1 to 200 characters",
    "language": "a two-letter language code in lower case, e.g. de or en",
    "collection": "lower-case letters, digits, '_' or '-' only (e.g. returns)",
    "audience": "either public or internal",
    "status": "either published or draft",
    "url": "an address starting with http:// or https://, without spaces",
    "updated": "a date written YYYY-MM-DD, e.g. 2026-10-14",
}


class ArticleMeta(BaseModel):
    """The front matter every article must carry."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")
    title: str = Field(min_length=1, max_length=200)
    language: str = Field(pattern=r"^[a-z]{2}$")
    collection: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")
    audience: Literal["public", "internal"]
    status: Literal["published", "draft"]
    url: str | None = Field(None, pattern=r"^https?://\S+$")
    updated: date


@dataclass(frozen=True)
class Article:
    """A help-center article as read from disk."""

    meta: ArticleMeta
    body: str
    path: Path

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def customer_visible(self) -> bool:
        """Only published, public articles may ever reach a customer."""
        return self.meta.audience == "public" and self.meta.status == "published"

    @property
    def content_hash(self) -> str:
        """Hash of everything that ends up in the index for this article."""
        payload = self.meta.model_dump_json() + "\n" + self.body
        return hashlib.sha256(payload.encode()).hexdigest()

    def index_metadata(self) -> dict[str, str]:
        """What every index entry of the article carries: who may see it (the scope filter) and its source."""
        meta = self.meta
        return {
            "article_id": meta.id,
            "title": meta.title,
            "url": meta.url or "",
            "language": meta.language,
            "collection": meta.collection,
            "audience": meta.audience,
            "status": meta.status,
        }


@dataclass(frozen=True)
class Problem:
    """Why one file was skipped: the file, the field (if any) and a readable message."""

    path: Path
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}" + (f" [{self.field}]" if self.field else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class KnowledgeBase:
    """The valid articles of a folder, and the problems of the files that were skipped."""

    articles: list[Article]
    problems: list[Problem]


def parse_article(path: Path) -> Article:
    """Read one article file. Raises ArticleProblem (a ValueError) naming the field at fault."""
    raw = path.read_bytes()
    if len(raw) > MAX_ARTICLE_BYTES:
        raise ArticleProblem("", f"file is larger than {MAX_ARTICLE_BYTES // 1000} kB")
    try:
        text = raw.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise ArticleProblem("", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    match = _FRONT_MATTER.match(text)
    if not match:
        raise ArticleProblem("", "no front matter: the file must start with a '---' block")
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise ArticleProblem("", f"front matter is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ArticleProblem("", "front matter must be a list of 'field: value' lines")
    body = text[match.end() :].strip()
    try:
        meta = ArticleMeta.model_validate(_with_safe_defaults(data, path, body))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        msg = "missing" if err["type"] == "missing" else _FIELD_RULES.get(field, err["msg"])
        if err["type"] == "extra_forbidden":
            msg = "unknown field (allowed: " + ", ".join(ArticleMeta.model_fields) + ")"
        elif err["type"] not in ("missing", "extra_forbidden") and "input" in err:
            msg = f"{msg} (found: {str(err['input'])[:60]!r})"
        raise ArticleProblem(field, msg) from None
    if not body:
        raise ArticleProblem("", "the article has no text after the front matter")
    return Article(meta=meta, body=body, path=path)


def _with_safe_defaults(data: dict[str, object], path: Path, body: str) -> dict[str, object]:
    """Fill in the fields whose default cannot mislead a customer: `updated` from the file's date,
    `title` from the first heading, `collection` "general". Audience, status, language and id stay
    required: a wrong guess there would publish something or mislabel it."""
    filled = dict(data)
    if not filled.get("updated"):
        filled["updated"] = date.fromtimestamp(path.stat().st_mtime)
    if not filled.get("title"):
        heading = _HEADING.search(body)
        if heading:
            filled["title"] = heading.group(1).strip()
    filled.setdefault("collection", "general")
    return filled


def shown_path(path: Path, folder: Path) -> str:
    """An article file as staff see it: relative to the knowledge folder when it lies inside."""
    try:
        return str(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(path)


class ArticleProblem(ValueError):
    """An article file is invalid; `field` names the front-matter field at fault, if any."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def load_knowledge(folder: Path) -> KnowledgeBase:
    """Read every *.md under folder. Invalid files and duplicate ids are reported and skipped (of two
    files with one id the published one is kept, else the first by path)."""
    if not folder.is_dir():
        raise KnowledgeError(f"The knowledge folder {folder} does not exist. Create it or set knowledge_dir.")
    articles: list[Article] = []
    problems: list[Problem] = []
    seen: dict[str, Article] = {}
    for path in sorted(folder.rglob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        try:
            article = parse_article(path)
        except ArticleProblem as exc:
            problems.append(Problem(path, exc.field, exc.message))
            continue
        except OSError as exc:
            problems.append(Problem(path, "", f"cannot be read: {exc.strerror}"))
            continue
        kept = seen.get(article.id)
        if kept is None:
            seen[article.id] = article
            articles.append(article)
            continue
        if kept.meta.status == "draft" and article.meta.status == "published":
            # a draft (e.g. an import) that repeats a live article's id must never take it offline
            articles[articles.index(kept)] = seen[article.id] = article
            kept, article = article, kept
        problems.append(Problem(article.path, "id", f"duplicate id '{article.id}' (also in {kept.path})"))
    return KnowledgeBase(articles=articles, problems=problems)
