"""Drafts → published (and back) in the article files themselves, and an "as if published" copy of a folder.

Only the value of the `status:` line in the front matter changes; every other byte of the file stays as
it was. A change of several articles is all-or-nothing: every article is checked first, and files
already written are put back when a later one cannot be written.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from agent.errors import AgentError
from agent.knowledge.articles import Article, ArticleProblem, KnowledgeBase, Problem, parse_article
from agent.knowledge.questions import CACHE_FILE

Status = Literal["draft", "published"]
_FRONT_MATTER = re.compile(r"\A(\ufeff?)---[ \t]*\r?\n(.*?)\r?\n---", re.DOTALL)
_STATUS_LINE = re.compile(
    r"^status[ \t]*:[ \t]*([\"']?)(draft|published)\1(?=[ \t]*(?:#[^\r\n]*)?\r?$)", re.M
)
_ID_LINE = re.compile(r"^id[ \t]*:[ \t]*[\"']?([a-z0-9][a-z0-9._-]*)", re.M)


class PublishRefused(AgentError):
    """Nothing was changed: the message lists every article that cannot be changed, and why."""


def drafts(kb: KnowledgeBase) -> list[Article]:
    """The valid articles with `status: draft`, by id."""
    return sorted((a for a in kb.articles if a.meta.status == "draft"), key=lambda a: a.id)


def problem_of(kb: KnowledgeBase, article_id: str) -> Problem | None:
    """The invalid file that declares `article_id` in its front matter, if there is one."""
    for problem in kb.problems:
        if problem.field == "id" and problem.message.startswith(f"duplicate id '{article_id}'"):
            return problem
        try:
            head = problem.path.read_text(encoding="utf-8", errors="replace")[:4000]
        except OSError:
            continue
        match = _FRONT_MATTER.match(head)
        declared = _ID_LINE.search(match.group(2)) if match else None
        if declared and declared.group(1) == article_id:
            return problem
    return None


def check_status_change(kb: KnowledgeBase, ids: Iterable[str], to: Status) -> list[Article]:
    """The articles to change; PublishRefused listing every id that cannot go to `to` (unknown, in an
    invalid file, sharing its id with another file, already there)."""
    wanted = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not wanted:
        raise PublishRefused("Choose at least one article.")
    by_id = {a.id: a for a in kb.articles}
    chosen: list[Article] = []
    refusals: list[str] = []
    for article_id in wanted:
        article = by_id.get(article_id)
        problem = problem_of(kb, article_id)
        if problem is not None and problem.field == "id" and "duplicate id" in problem.message:
            other = article.path if article else "another file"
            refusals.append(
                f"'{article_id}' is the id of two files ({problem.path} and {other}): give the draft "
                "an id of its own, or remove the older file, first."
            )
        elif article is None and problem is not None:
            refusals.append(f"'{article_id}' is in an invalid file – {problem}. Fix the file first.")
        elif article is None:
            refusals.append(f"There is no article with the id '{article_id}' in the knowledge folder.")
        elif article.meta.status == to:
            refusals.append(f"'{article_id}' is {'published' if to == 'published' else 'a draft'} already.")
        else:
            chosen.append(article)
    if refusals:
        raise PublishRefused("Nothing was changed. " + " ".join(refusals))
    return chosen


def with_status(text: str, to: Status) -> str:
    """The file text with only the front matter's status value replaced by `to`."""
    front = _FRONT_MATTER.match(text)
    if not front:
        raise ArticleProblem("", "no front matter: the file must start with a '---' block")
    lines = list(_STATUS_LINE.finditer(front.group(2)))
    if len(lines) != 1:
        raise ArticleProblem("status", "expected exactly one 'status: draft' or 'status: published' line")
    start, end = front.start(2) + lines[0].start(2), front.start(2) + lines[0].end(2)
    return text[:start] + to + text[end:]


def change_status(kb: KnowledgeBase, ids: Iterable[str], to: Status) -> list[Article]:
    """Set `status: to` in each article's file (all checked first; all or none written)."""
    chosen = check_status_change(kb, ids, to)
    planned: list[tuple[Path, bytes, bytes]] = []
    for article in chosen:
        try:
            old = article.path.read_bytes()
            new = with_status(old.decode("utf-8"), to).encode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PublishRefused(f"Nothing was changed. {article.path} cannot be read: {exc}") from None
        except ArticleProblem as exc:
            raise PublishRefused(
                f"Nothing was changed. {article.path} [{exc.field or 'front matter'}]: {exc.message}"
            ) from None
        planned.append((article.path, old, new))
    written: list[tuple[Path, bytes, bytes]] = []
    try:
        for path, old, new in planned:
            write_atomically(path, new)
            written.append((path, old, new))
    except OSError as exc:
        for path, old, _ in written:
            write_atomically(path, old)
        raise PublishRefused(
            f"Nothing was changed: {exc.filename} cannot be written ({exc.strerror})."
        ) from None
    return chosen


def write_atomically(path: Path, data: bytes) -> None:
    """Replace a file's bytes in one step (a reader sees the old or the new file, never half of one),
    keeping its permissions."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    if path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def as_if_published(source: Path, target: Path) -> list[str]:
    """Copy every article file of `source` into `target` with each valid draft's status set to published;
    the ids of those drafts. Invalid files are copied as they are (the simulation reports them)."""
    flipped: list[str] = []
    for path in sorted(source.rglob("*.md")):
        if not path.is_file():
            continue
        copy = target / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        try:
            article = parse_article(path)
        except (ArticleProblem, OSError):
            article = None
        if article is not None and article.meta.status == "draft":
            data = with_status(data.decode("utf-8"), "published").encode("utf-8")
            flipped.append(article.id)
        copy.write_bytes(data)
    cached = source / CACHE_FILE
    if cached.is_file():  # the generated questions of unchanged articles: only the drafts need the model
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target / CACHE_FILE)
    return flipped
