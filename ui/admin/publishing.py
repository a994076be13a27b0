"""The console's "Drafts & publishing" tab: the drafts, a simulation of drafts vs live, publish (and back to
draft), and each article's versions with diff and rollback. Each action checks the role on the server
(`Console.require`); the work and its audit entries are `agent.staff.publishing.Publishing`'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from agent.errors import AgentError
from agent.knowledge.articles import shown_path
from agent.knowledge.versions import Version
from agent.staff.console import UPLOAD_TYPES
from agent.staff.publishing import DraftsView, Publishing
from agent.staff.services import staff_actor
from ui.admin.actions import Console, _chart_frame

TAB = "Drafts & publishing"
DRAFT_COLUMNS = ["id", "title", "language", "collection", "audience", "updated", "file", "problems"]
VERSION_COLUMNS = ["version", "who", "when", "why", "file", "hash"]
CHANGED_COLUMNS = [
    "id",
    "question (redacted)",
    "expected",
    "live: best article",
    "live: refused",
    "with drafts: best article",
    "with drafts: refused",
]
COMPARED = ("questions", "answered", "refused", "citation_accuracy", "recall@3", "latency_p50_s")


class PublishingConsole:
    """The server side of the tab's actions (each starts with `Console.require`)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    @property
    def publishing(self) -> Publishing:
        return self.console.services.publishing

    def drafts(self, request: gr.Request) -> tuple[pd.DataFrame, str, Any, Any]:
        """The drafts table, the invalid files (file and field), and the choices of the pickers."""
        self.console.require("drafts_list", request)
        view = self.publishing.drafts()
        ids = [a.id for a in view.drafts]
        known = sorted({*ids, *self.publishing.versions.article_ids()})
        return (
            self._drafts_frame(view),
            _problems_markdown(view),
            gr.Dropdown(choices=ids, value=[]),
            gr.Dropdown(choices=known),
        )

    def simulate(
        self, upload: str | None, retrieval_only: bool, request: gr.Request
    ) -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Replay uploaded questions against the live help center and against live + drafts."""
        session = self.console.require("drafts_simulate", request)
        if not upload:
            raise gr.Error("Upload a CSV or JSONL file of questions first.")
        try:
            simulation = self.publishing.simulate_drafts(
                Path(upload), retrieval_only=bool(retrieval_only), username=session.username
            )
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        live, with_drafts = self.publishing.overviews(simulation)
        table = pd.DataFrame(
            [
                {"figure": key, "live": live[key], "live + drafts": with_drafts[key]}
                for key in ("run", "knowledge", *COMPARED)
            ]
        ).astype(str)
        changed = pd.DataFrame(self.publishing.changed_questions(simulation), columns=CHANGED_COLUMNS)
        summary = (
            f"Simulated {live['questions']} questions against the live help center and with "
            f"{len(simulation.drafts)} draft(s) as if published ({', '.join(simulation.drafts)}): "
            f"recall@3 {live['recall@3']} → {with_drafts['recall@3']}, refused {live['refused']} → "
            f"{with_drafts['refused']}; {len(changed)} question(s) get a different best article or "
            "refusal. Nothing live was changed. Both runs are also in the Simulations tab."
        )
        return summary, table, _chart_frame([live, with_drafts]), changed

    def publish(
        self, chosen: list[str] | None, all_drafts: bool, confirmed: bool, request: gr.Request
    ) -> tuple[str, pd.DataFrame]:
        """Publish the chosen drafts (or all of them) after the confirmation tick."""
        session = self.console.require("articles_publish", request)
        if not confirmed:
            raise gr.Error("Tick “I confirm” first: customers get published articles at once.")
        if not all_drafts and not chosen:
            raise gr.Error("Choose the drafts to publish, or tick “All drafts”.")
        try:
            change = self.publishing.publish(
                chosen or [], staff_actor(session.username), all_drafts=bool(all_drafts)
            )
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return (
            f"Published {len(change.ids)} article(s): {', '.join(change.ids)}. "
            f"Index: {change.index.summary()}",
            self._drafts_frame(self.publishing.drafts()),
        )

    def unpublish(
        self, chosen: list[str] | None, confirmed: bool, request: gr.Request
    ) -> tuple[str, pd.DataFrame]:
        """Set published articles back to draft (customers no longer get them)."""
        session = self.console.require("articles_unpublish", request)
        if not confirmed:
            raise gr.Error("Tick “I confirm” first: customers no longer get these articles.")
        try:
            change = self.publishing.unpublish(chosen or [], staff_actor(session.username))
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return (
            f"Back to draft: {', '.join(change.ids)}. Index: {change.index.summary()}",
            self._drafts_frame(self.publishing.drafts()),
        )

    def versions(self, article_id: str | None, request: gr.Request) -> pd.DataFrame:
        """The article's versions: number, who, when, why."""
        self.console.require("article_versions", request)
        return _versions_frame(self._history(article_id))

    def diff(self, article_id: str | None, a: float | None, b: float | None, request: gr.Request) -> str:
        """The unified diff between two versions."""
        self.console.require("article_diff", request)
        if not article_id or a is None or b is None:
            raise gr.Error("Choose an article and two version numbers.")
        try:
            text = self.publishing.diff(article_id, int(a), int(b))
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return text or f"Versions {int(a)} and {int(b)} have the same text."

    def rollback(
        self, article_id: str | None, version: float | None, confirmed: bool, request: gr.Request
    ) -> tuple[str, pd.DataFrame]:
        """Write an earlier version back to the article's file (after the confirmation tick)."""
        session = self.console.require("article_rollback", request)
        if not article_id or version is None:
            raise gr.Error("Choose an article and the version to go back to.")
        if not confirmed:
            raise gr.Error(
                "Tick “I confirm” first: the article's file is replaced (its text now stays a version)."
            )
        try:
            new = self.publishing.rollback(article_id, int(version), staff_actor(session.username))
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return (
            f"'{new.article_id}' has the text of version {int(version)} again (now version {new.version}); "
            "the index is up to date.",
            _versions_frame(self.publishing.versions.history(new.article_id)),
        )

    def _history(self, article_id: str | None) -> list[Version]:
        if not article_id or not article_id.strip():
            raise gr.Error("Choose an article id.")
        try:
            return self.publishing.history(article_id)
        except AgentError as exc:
            raise gr.Error(str(exc)) from None

    def _drafts_frame(self, view: DraftsView) -> pd.DataFrame:
        root = self.console.settings.knowledge_dir
        rows = [
            {
                "id": a.id,
                "title": a.meta.title,
                "language": a.meta.language,
                "collection": a.meta.collection,
                "audience": a.meta.audience,
                "updated": a.meta.updated.isoformat(),
                "file": shown_path(a.path, root),
                "problems": view.duplicates.get(a.id, ""),
            }
            for a in view.drafts
        ]
        rows += [
            {
                "id": "",
                "title": "(invalid file)",
                "file": shown_path(p.path, root),
                "problems": f"[{p.field}] {p.message}" if p.field else p.message,
            }
            for p in view.problems
        ]
        return pd.DataFrame(rows, columns=DRAFT_COLUMNS).fillna("")


def build_publishing_tab(console: Console) -> gr.Tab:
    """The "Drafts & publishing" tab (shown per role by `Console.whoami`)."""
    actions = PublishingConsole(console)
    with gr.Tab(TAB, visible=False) as tab:
        load = gr.Button("Load drafts")
        table = gr.Dataframe(label="Drafts (and invalid article files)", headers=DRAFT_COLUMNS, wrap=True)
        problems = gr.Markdown()
        gr.Markdown("### Drafts vs live")
        with gr.Row():
            upload = gr.File(label="Questions (CSV or JSONL)", file_types=list(UPLOAD_TYPES), type="filepath")
            with gr.Column():
                retrieval_only = gr.Checkbox(value=True, label="Retrieval only (fast: no answers generated)")
                simulate = gr.Button("Simulate drafts vs live", variant="primary")
        summary = gr.Markdown()
        compared = gr.Dataframe(label="Live vs live + drafts", headers=["figure", "live", "live + drafts"])
        chart = gr.BarPlot(x="figure", y="value", color="run", title="Live vs live + drafts")
        changed = gr.Dataframe(
            label="Questions whose best article or refusal changes", headers=CHANGED_COLUMNS, wrap=True
        )
        gr.Markdown("### Publish")
        with gr.Row():
            chosen = gr.Dropdown([], multiselect=True, allow_custom_value=True, label="Drafts")
            all_drafts = gr.Checkbox(label="All drafts")
            confirm = gr.Checkbox(label="I confirm: customers get these articles at once")
        with gr.Row():
            publish = gr.Button("Publish", variant="primary")
            unpublish = gr.Button("Back to draft (chosen ids)")
        published = gr.Markdown()
        gr.Markdown("### Versions")
        with gr.Row():
            article = gr.Dropdown([], allow_custom_value=True, label="Article id")
            show = gr.Button("Show versions")
        versions = gr.Dataframe(label="Versions", headers=VERSION_COLUMNS, wrap=True)
        with gr.Row():
            first = gr.Number(label="Version A", precision=0)
            second = gr.Number(label="Version B", precision=0)
            diff = gr.Button("Diff A → B")
        diff_out = gr.Code(label="Diff", language=None, interactive=False)
        with gr.Row():
            target = gr.Number(label="Roll back to version", precision=0)
            confirm_rollback = gr.Checkbox(label="I confirm the rollback")
            rollback = gr.Button("Roll back", variant="stop")
        rolled_back = gr.Markdown()

        load.click(actions.drafts, None, [table, problems, chosen, article], api_name="drafts_list")
        simulate.click(
            actions.simulate,
            [upload, retrieval_only],
            [summary, compared, chart, changed],
            api_name="drafts_simulate",
        )
        publish.click(
            actions.publish, [chosen, all_drafts, confirm], [published, table], api_name="articles_publish"
        )
        unpublish.click(
            actions.unpublish, [chosen, confirm], [published, table], api_name="articles_unpublish"
        )
        show.click(actions.versions, [article], versions, api_name="article_versions")
        diff.click(actions.diff, [article, first, second], diff_out, api_name="article_diff")
        rollback.click(
            actions.rollback,
            [article, target, confirm_rollback],
            [rolled_back, versions],
            api_name="article_rollback",
        )
    return tab


def _versions_frame(history: list[Version]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "version": v.version,
                "who": v.actor,
                "when": v.at,
                "why": v.reason,
                "file": str(v.path),
                "hash": v.content_hash[:12],
            }
            for v in reversed(history)
        ],
        columns=VERSION_COLUMNS,
    )


def _problems_markdown(view: DraftsView) -> str:
    if not view.problems:
        return f"{len(view.drafts)} draft(s); no invalid article files."
    lines = [f"{len(view.drafts)} draft(s); **{len(view.problems)} invalid file(s)**, not published:", ""]
    lines += [
        f"- `{p.path}`" + (f" [{p.field}]" if p.field else "") + f": {p.message}" for p in view.problems
    ]
    return "\n".join(lines)
