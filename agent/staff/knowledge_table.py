"""The Knowledge tab's tables, without any UI: every article with its metadata, when the index last
embedded it, how often answers cited it and how customers rated those answers; and the invalid files
with the field at fault."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from agent.knowledge.articles import KnowledgeBase, shown_path
from agent.knowledge.index import read_state
from agent.privacy.answer_stats import AnswerStatistics
from agent.settings import Settings
from agent.staff.overview import cited_articles

ARTICLE_COLUMNS = (
    "id",
    "title",
    "language",
    "collection",
    "status",
    "audience",
    "updated",
    "last indexed",
    "cited",
    "thumbs up",
    "thumbs down",
    "thumbs up share",
)
PROBLEM_COLUMNS = ("file", "field", "message")
ALL = "all"  # the filter value that keeps every article


@dataclass(frozen=True)
class ArticleFilter:
    """The simple filters of the Knowledge tab ("all" or one value each)."""

    language: str = ALL
    collection: str = ALL
    status: str = ALL

    def keeps(self, values: dict[str, object]) -> bool:
        """Whether an article row passes every filter."""
        return all(
            wanted in (ALL, "", None) or values[name] == wanted
            for name, wanted in (
                ("language", self.language),
                ("collection", self.collection),
                ("status", self.status),
            )
        )


def article_rows(
    settings: Settings, kb: KnowledgeBase, statistics: AnswerStatistics, today: date, chosen: ArticleFilter
) -> list[list[object]]:
    """One row per valid article (ARTICLE_COLUMNS), sorted by id; cited and rated over the statistics
    kept (statistics_retention_days)."""
    since = today - timedelta(days=settings.statistics_retention_days)
    usage = {c.article: c for c in cited_articles(statistics.answers(since), statistics.ratings(since))}
    indexed = (read_state(settings.index_dir) or {}).get("indexed_at", {})
    rows = []
    for article in sorted(kb.articles, key=lambda a: a.id):
        meta = article.meta
        used = usage.get(meta.id)
        up, down = (used.thumbs_up, used.thumbs_down) if used else (0, 0)
        values: dict[str, object] = {
            "id": meta.id,
            "title": meta.title,
            "language": meta.language,
            "collection": meta.collection,
            "status": meta.status,
            "audience": meta.audience,
            "updated": meta.updated.isoformat(),
            "last indexed": _indexed(indexed.get(meta.id)),
            "cited": used.cited if used else 0,
            "thumbs up": up,
            "thumbs down": down,
            "thumbs up share": round(up / (up + down), 2) if up + down else None,
        }
        if chosen.keeps(values):
            rows.append([values[column] for column in ARTICLE_COLUMNS])
    return rows


def _indexed(at: str | None) -> str:
    """When the index last embedded an article: its run's time; "earlier" when that run came before
    per-article times were kept; "not yet" when no run has seen the article."""
    if at is None:
        return "not yet"
    return at[:16].replace("T", " ") if at else "earlier"  # UTC, to the minute


def problem_rows(kb: KnowledgeBase, folder: Path) -> list[list[str]]:
    """One row per invalid file: file (relative to the knowledge folder), field (empty when the whole
    file is at fault), message."""
    return [[shown_path(p.path, folder), p.field, p.message] for p in kb.problems]


def filter_choices(kb: KnowledgeBase) -> dict[str, list[str]]:
    """The values each simple filter offers ("all" first)."""
    metas = [a.meta for a in kb.articles]
    return {
        "language": [ALL, *sorted({m.language for m in metas})],
        "collection": [ALL, *sorted({m.collection for m in metas})],
        "status": [ALL, "published", "draft"],
    }
