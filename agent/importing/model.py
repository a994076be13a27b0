"""What every source reader produces: source articles, and the reasons some were skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from agent.errors import AgentError


class ImportRefused(AgentError):
    """The whole import cannot run (unknown source, a host that is not declared, an unreadable export)."""


@dataclass(frozen=True)
class SourceArticle:
    """One article as a source holds it, already converted to Markdown.

    `key` is stable across imports (kind + id or URL or path): it ties the article to its draft file.
    """

    key: str
    source_id: str  # short, human-readable: a helpdesk id, a URL path, a file path
    title: str
    markdown: str
    url: str | None = None
    language: str | None = None  # from the source (a locale); None = detect from the text
    audience: Literal["public", "internal"] = "public"
    updated: date | None = None
    images_dropped: int = 0


@dataclass(frozen=True)
class Skipped:
    """A source article that could not be imported: where it came from, the field at fault and why."""

    where: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}" + (f" [{self.field}]" if self.field else "") + f": {self.reason}"


@dataclass
class SourceBatch:
    """Everything one source yielded: its articles, what was skipped, and what it is (for reports)."""

    kind: Literal["files", "website", "zendesk", "freshdesk"]
    origin: str  # which source within the kind: a folder or file name, a host; never content
    articles: list[SourceArticle] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    complete: bool = True  # False when a limit cut the source short: then nothing counts as removed
