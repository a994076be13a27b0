"""Every article's history: each distinct file text, who recorded it, when and why (SQLite in the data dir).

A version is recorded when an article's file text differs from its last recorded version: by an index run
(actor "on disk": someone edited the file), a publish, or a rollback. An article deleted on disk keeps its
history, so it can be restored at its last path.
"""

from __future__ import annotations

import difflib
import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.errors import AgentError
from agent.knowledge.articles import KnowledgeBase

ON_DISK = "on disk"  # the actor of a change first seen by an index run (the file was edited directly)
VERSIONS_FILE = "article_versions.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS article_versions (
    article_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (article_id, version)
)
"""


class VersionError(AgentError):
    """An unknown article or version number."""


@dataclass(frozen=True)
class Version:
    """One recorded text of an article."""

    article_id: str
    version: int
    path: Path
    text: str
    content_hash: str
    actor: str
    at: str
    reason: str


def text_hash(text: str) -> str:
    """SHA-256 of a file's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ArticleVersions:
    """The version history of every article, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as conn:
            conn.execute(_SCHEMA)

    def snapshot(
        self, kb: KnowledgeBase, actor: str, reason: str | None = None, *, only: Iterable[str] | None = None
    ) -> list[Version]:
        """Record a new version of each article (of `only`, if given) whose file text differs from its
        last version; `reason` defaults to "created" for a first version and "edited" otherwise."""
        wanted = set(only) if only is not None else None
        texts: list[tuple[str, Path, str]] = []
        for article in kb.articles:
            if wanted is not None and article.id not in wanted:
                continue
            try:
                texts.append((article.id, article.path, article.path.read_text(encoding="utf-8")))
            except OSError:
                continue  # gone since it was read: the next run sees it
        at = datetime.now(UTC).isoformat(timespec="seconds")
        recorded: list[Version] = []
        with self._lock, self._connection() as conn:
            latest = {
                row[0]: (row[1], row[2])
                for row in conn.execute(
                    "SELECT article_id, MAX(version), content_hash FROM article_versions GROUP BY article_id"
                )
            }
            for article_id, path, text in texts:
                digest = text_hash(text)
                number, last_hash = latest.get(article_id, (0, ""))
                if digest == last_hash:
                    continue
                why = reason or ("created" if number == 0 else "edited")
                version = Version(article_id, number + 1, path, text, digest, actor, at, why)
                conn.execute(
                    "INSERT INTO article_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (article_id, version.version, str(path), text, digest, actor, at, why),
                )
                recorded.append(version)
        return recorded

    def history(self, article_id: str) -> list[Version]:
        """The article's versions, oldest first; VersionError when there are none."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT * FROM article_versions WHERE article_id = ? ORDER BY version", (article_id,)
            ).fetchall()
        if not rows:
            raise VersionError(
                f"No versions are recorded for the article '{article_id}'. Check the id; an article gets "
                "its first version at the next index run."
            )
        return [_version(row) for row in rows]

    def version(self, article_id: str, number: int) -> Version:
        """One version; VersionError naming the versions there are."""
        versions = self.history(article_id)
        for version in versions:
            if version.version == number:
                return version
        raise VersionError(
            f"The article '{article_id}' has no version {number} "
            f"(it has versions 1 to {versions[-1].version})."
        )

    def latest(self, article_id: str) -> Version:
        """The newest version of an article."""
        return self.history(article_id)[-1]

    def article_ids(self) -> list[str]:
        """Every article with a history (deleted ones included), sorted."""
        with self._connection() as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT article_id FROM article_versions ORDER BY 1")]

    def diff(self, article_id: str, a: int, b: int) -> str:
        """The unified diff from version a to version b ("" when the texts are the same)."""
        old, new = self.version(article_id, a), self.version(article_id, b)
        return "".join(
            difflib.unified_diff(
                old.text.splitlines(keepends=True),
                new.text.splitlines(keepends=True),
                fromfile=f"{article_id} v{a}",
                tofile=f"{article_id} v{b}",
            )
        )

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
            yield conn


def _version(row: tuple[str, int, str, str, str, str, str, str]) -> Version:
    article_id, number, path, text, digest, actor, at, reason = row
    return Version(article_id, number, Path(path), text, digest, actor, at, reason)
