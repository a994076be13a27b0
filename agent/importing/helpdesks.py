"""Zendesk Guide and Freshdesk Solutions exports (the JSON their APIs return) → source articles.

Zendesk: `GET /api/v2/help_center/{locale}/articles.json` → `{"articles": [...], "next_page": ...}`
(one page, or a list of pages). An article with a `user_segment_id` is restricted to some users, so it
comes in as internal.

Freshdesk: `GET /api/v2/solutions/folders/{id}/articles` → a list of articles; or the folders with their
articles (`{"folders": [{"id", "visibility", "articles": [...]}]}`) so that a folder's visibility can
mark its articles internal (visibility 1 = all users; anything else is restricted).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from agent.importing.convert import html_to_markdown
from agent.importing.model import ImportRefused, Skipped, SourceArticle, SourceBatch

MAX_EXPORT_BYTES = 200_000_000
FRESHDESK_ALL_USERS = 1


def read_export(path: Path) -> SourceBatch:
    """A Zendesk or Freshdesk export file; ImportRefused if it is neither."""
    if path.stat().st_size > MAX_EXPORT_BYTES:
        raise ImportRefused(f"{path.name}: larger than {MAX_EXPORT_BYTES // 1_000_000} MB.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused(f"{path.name} is not valid JSON ({exc}).") from None
    kind = export_kind(data)
    if kind == "zendesk":
        return zendesk_articles(data)
    if kind == "freshdesk":
        return freshdesk_articles(data)
    raise ImportRefused(
        f"{path.name} is neither a Zendesk Guide export (an object with 'articles') nor a Freshdesk "
        "Solutions export (a list of articles, or an object with 'folders')."
    )


def export_kind(data: Any) -> str | None:
    """'zendesk', 'freshdesk' or None, from the shape of the JSON."""
    pages = data if isinstance(data, list) else [data]
    if pages and all(isinstance(p, dict) and isinstance(p.get("articles"), list) for p in pages):
        if isinstance(data, dict) or any(
            "body" in a or "html_url" in a for p in pages for a in p["articles"]
        ):
            return "zendesk"
    if isinstance(data, dict) and isinstance(data.get("folders"), list):
        return "freshdesk"
    if isinstance(data, list) and data and all(isinstance(a, dict) and "description" in a for a in data):
        return "freshdesk"
    return None


def zendesk_articles(data: Any) -> SourceBatch:
    """Every article of one or more pages of the Zendesk Guide articles API."""
    batch = SourceBatch("zendesk", "zendesk")
    pages = data if isinstance(data, list) else [data]
    for page in pages:
        for number, item in enumerate(page["articles"], start=1):
            where = f"article {item.get('id', f'#{number}')}" if isinstance(item, dict) else f"#{number}"
            problem = _missing(item, ("id", "title", "body"))
            if problem:
                batch.skipped.append(Skipped(where, problem, "missing or empty"))
                continue
            locale = str(item.get("locale") or "")
            source_id = f"{item['id']}-{locale}" if locale else str(item["id"])
            _add(
                batch,
                where,
                key=f"zendesk:{source_id}",
                source_id=source_id,
                title=str(item["title"]),
                html=str(item["body"]),
                url=item.get("html_url"),
                language=locale.split("-")[0].lower() or None,
                internal=item.get("user_segment_id") is not None,
                updated=item.get("updated_at"),
            )
    return batch


def freshdesk_articles(data: Any) -> SourceBatch:
    """Every article of a Freshdesk Solutions export, internal when its folder is not for all users."""
    batch = SourceBatch("freshdesk", "freshdesk")
    if isinstance(data, dict):
        groups = [
            (folder.get("visibility"), folder.get("articles") or [])
            for folder in data["folders"]
            if isinstance(folder, dict)
        ]
    else:
        groups = [(None, data)]
    for visibility, articles in groups:
        for number, item in enumerate(articles, start=1):
            where = f"article {item.get('id', f'#{number}')}" if isinstance(item, dict) else f"#{number}"
            problem = _missing(item, ("id", "title", "description"))
            if problem:
                batch.skipped.append(Skipped(where, problem, "missing or empty"))
                continue
            shown_to = item.get("folder_visibility", visibility)
            _add(
                batch,
                where,
                key=f"freshdesk:{item['id']}",
                source_id=str(item["id"]),
                title=str(item["title"]),
                html=str(item["description"]),
                url=None,
                language=None,
                internal=shown_to is not None and shown_to != FRESHDESK_ALL_USERS,
                updated=item.get("updated_at"),
            )
    return batch


def _missing(item: Any, fields: tuple[str, ...]) -> str | None:
    """The first required field that is missing or empty ('' for an item that is not an object)."""
    if not isinstance(item, dict):
        return "article"
    for field in fields:
        if item.get(field) in (None, ""):
            return field
    return None


def _add(batch: SourceBatch, where: str, *, html: str, internal: bool, updated: Any, **fields: Any) -> None:
    converted = html_to_markdown(html)
    if not converted.markdown:
        batch.skipped.append(Skipped(where, "body", "no text after converting the HTML"))
        return
    when = None
    if isinstance(updated, str):
        try:
            when = date.fromisoformat(updated[:10])
        except ValueError:
            batch.skipped.append(Skipped(where, "updated_at", f"not a date: {updated[:40]!r}"))
            return
    batch.articles.append(
        SourceArticle(
            markdown=converted.markdown,
            audience="internal" if internal else "public",
            updated=when,
            images_dropped=converted.images_dropped,
            **fields,
        )
    )
