"""The publish flow for staff, shared by the console and the CLI: the drafts, a simulation of the drafts vs
the live help center, publishing (and unpublishing), article versions with diff and rollback.

Every change reindexes (so customers get it at once), records the new versions and writes an audit entry
with article ids and version numbers only – never article text.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.knowledge.articles import Article, KnowledgeBase, Problem
from agent.knowledge.index import IndexReport
from agent.knowledge.publishing import (
    PublishRefused,
    Status,
    as_if_published,
    change_status,
    drafts,
    problem_of,
    write_atomically,
)
from agent.knowledge.versions import ON_DISK, ArticleVersions, Version, VersionError
from agent.staff.console import run_overview, simulations_dir

if TYPE_CHECKING:
    from agent.staff.services import StaffServices

LIVE_LABEL = "live help center"


@dataclass(frozen=True)
class DraftsView:
    """The drafts of the knowledge folder and the files that were skipped as invalid."""

    drafts: list[Article]
    problems: list[Problem]
    duplicates: dict[str, str]  # draft id → why it cannot be published (its id is used by another file)


@dataclass(frozen=True)
class StatusChange:
    """What a publish or unpublish did."""

    ids: list[str]
    versions: dict[str, int]  # article id → its new version number
    index: IndexReport


@dataclass(frozen=True)
class DraftsSimulation:
    """The two runs of a drafts-vs-live simulation (run ids of the console's simulation runs)."""

    live_run: str
    drafts_run: str
    drafts: list[str]


class Publishing:
    """Drafts, publishing and versions over the live knowledge folder (one change at a time)."""

    def __init__(self, staff: StaffServices, versions: ArticleVersions) -> None:
        self._staff = staff
        self.settings = staff.settings
        self.versions = versions
        self._lock = threading.Lock()

    # drafts ------------------------------------------------------------------------------------
    def drafts(self) -> DraftsView:
        """The drafts (valid articles with `status: draft`) and the invalid files, with file and field."""
        kb = self._staff.knowledge()
        found = drafts(kb)
        duplicates = {}
        for article in found:
            problem = problem_of(kb, article.id)
            if problem is not None and "duplicate id" in problem.message:
                duplicates[article.id] = str(problem)
        return DraftsView(found, list(kb.problems), duplicates)

    def simulate_drafts(self, questions: Path, *, retrieval_only: bool, username: str) -> DraftsSimulation:
        """Replay `questions` against the live help center, then against the live help center with every
        draft as if published (a copy in a temporary folder: nothing live changes)."""
        kb = self._staff.knowledge()
        if not drafts(kb):
            raise PublishRefused("There are no drafts in the knowledge folder to simulate.")
        live = self.settings.knowledge_dir
        live_run = self._staff.simulate(
            questions, live, retrieval_only=retrieval_only, username=username, shown_as=LIVE_LABEL
        )
        self.settings.temp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="drafts-as-published-", dir=self.settings.temp_dir) as tmp:
            folder = Path(tmp) / "live-plus-drafts"
            flipped = as_if_published(live, folder)
            drafts_run = self._staff.simulate(
                questions,
                folder,
                retrieval_only=retrieval_only,
                username=username,
                shown_as=f"live help center + {len(flipped)} draft(s) as if published",
                seed_index=simulations_dir(self.settings) / live_run / "data" / "index",
            )
        return DraftsSimulation(live_run, drafts_run, flipped)

    def changed_questions(self, simulation: DraftsSimulation) -> list[dict[str, Any]]:
        """The questions whose best article or refusal differs between the two runs (redacted text)."""
        live, with_drafts = (
            _results(self.settings, run) for run in (simulation.live_run, simulation.drafts_run)
        )
        rows = []
        for qid, before in live.items():
            after = with_drafts.get(qid)
            if after is None or (_top(before), before["refused"]) == (_top(after), after["refused"]):
                continue
            rows.append(
                {
                    "id": qid,
                    "question (redacted)": before["question"],
                    "expected": before.get("expected_article") or "",
                    "live: best article": _top(before) or "–",
                    "live: refused": before["refused"],
                    "with drafts: best article": _top(after) or "–",
                    "with drafts: refused": after["refused"],
                }
            )
        return rows

    def overviews(self, simulation: DraftsSimulation) -> tuple[dict[str, Any], dict[str, Any]]:
        """The run overviews (answered, refused, citation accuracy, recall@3, latency) of both runs."""
        return run_overview(self.settings, simulation.live_run), run_overview(
            self.settings, simulation.drafts_run
        )

    # publishing --------------------------------------------------------------------------------
    def publish(self, ids: Iterable[str], actor: str, *, all_drafts: bool = False) -> StatusChange:
        """Set `status: published` in each draft's file (all or none), record the versions, audit
        `articles_published` (ids only) and reindex so customers get them."""
        return self._change(ids, actor, "published", all_drafts=all_drafts)

    def unpublish(self, ids: Iterable[str], actor: str) -> StatusChange:
        """Set `status: draft` again (customers no longer get the articles), audited as
        `articles_unpublished`."""
        return self._change(ids, actor, "draft")

    def _change(
        self, ids: Iterable[str], actor: str, to: Status, *, all_drafts: bool = False
    ) -> StatusChange:
        with self._lock:
            kb = self._staff.knowledge()
            wanted = [a.id for a in drafts(kb)] if all_drafts else list(ids)
            if all_drafts and not wanted:
                raise PublishRefused("There are no drafts to publish.")
            self.versions.snapshot(kb, ON_DISK)  # the text before, so the change can be rolled back
            changed = [a.id for a in change_status(kb, wanted, to)]
            kb = self._staff.knowledge()
            reason = "published" if to == "published" else "unpublished"
            recorded = self.versions.snapshot(kb, actor, reason, only=changed)
            numbers = {v.article_id: v.version for v in recorded}
            event = "articles_published" if to == "published" else "articles_unpublished"
            self._audit(event, actor, ids=changed, count=len(changed))
            report = self._staff.reindex(actor, kb)
        return StatusChange(changed, numbers, report)

    # versions ----------------------------------------------------------------------------------
    def history(self, article_id: str) -> list[Version]:
        """The article's versions, oldest first (an article edited on disk gets its newest one first)."""
        article_id = article_id.strip()
        self.versions.snapshot(self._staff.knowledge(), ON_DISK, only=[article_id])
        return self.versions.history(article_id)

    def diff(self, article_id: str, a: int, b: int) -> str:
        """The unified diff from version a to version b."""
        return self.versions.diff(article_id.strip(), a, b)

    def rollback(self, article_id: str, number: int, actor: str) -> Version:
        """Write version `number`'s text back to the article's file (its last path if it was deleted),
        record it as a new version, audit `article_rolled_back` and reindex."""
        article_id = article_id.strip()
        with self._lock:
            target = self.versions.version(article_id, number)
            kb = self._staff.knowledge()
            self.versions.snapshot(kb, ON_DISK)  # an unrecorded edit stays restorable
            path = self._rollback_path(kb, article_id)
            before = path.read_bytes() if path.exists() else None
            wanted = target.text.encode("utf-8")
            if before == wanted:
                raise VersionError(
                    f"'{article_id}' has the text of version {number} already; nothing changed."
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, wanted)
            kb = self._staff.knowledge()
            if not any(a.id == article_id and a.path == path for a in kb.articles):
                self._put_back(path, before)
                problem = problem_of(kb, article_id)
                raise VersionError(
                    f"Version {number} of '{article_id}' is not a valid article in today's knowledge folder"
                    + (f" ({problem})" if problem else "")
                    + "; nothing changed."
                )
            recorded = self.versions.snapshot(kb, actor, f"rolled back to v{number}", only=[article_id])
            self._audit(
                "article_rolled_back",
                actor,
                article=article_id,
                to_version=number,
                new_version=recorded[0].version if recorded else number,
            )
            self._staff.reindex(actor, kb)
        return recorded[0] if recorded else target

    def _rollback_path(self, kb: KnowledgeBase, article_id: str) -> Path:
        """The article's file now, else its last recorded path – always inside the knowledge folder."""
        current = next((a for a in kb.articles if a.id == article_id), None)
        path = current.path if current else self.versions.latest(article_id).path
        root = self.settings.knowledge_dir.resolve()
        if root not in path.resolve().parents:
            raise VersionError(
                f"The last file of '{article_id}' ({path}) is outside the knowledge folder {root}; "
                "nothing changed."
            )
        if current is None and path.exists():
            broken = problem_of(kb, article_id)
            if broken is None or broken.path != path:
                raise VersionError(
                    f"{path} holds another file now; move it before restoring '{article_id}' there. "
                    "Nothing changed."
                )
        return path

    @staticmethod
    def _put_back(path: Path, before: bytes | None) -> None:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            write_atomically(path, before)

    def _audit(self, event: str, actor: str, **details: Any) -> None:
        self._staff.subjects.audit.record(event, actor, **details)


def _results(settings: Any, run: str) -> dict[str, dict[str, Any]]:
    lines = (simulations_dir(settings) / run / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["id"]: row for row in map(json.loads, filter(None, lines))}


def _top(result: dict[str, Any]) -> str:
    return result["retrieved"][0] if result["retrieved"] else ""
