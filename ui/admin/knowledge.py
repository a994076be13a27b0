"""The console's Knowledge tab: a sortable, searchable table of every article (metadata, last indexed,
times cited, 👍/👎 share) with simple filters, a table of invalid files with the field at fault, and the
Reindex button. The API name `knowledge_status` is kept (support leads' scripts may call it)."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from agent.clock import utc_now
from agent.staff.knowledge_table import (
    ALL,
    ARTICLE_COLUMNS,
    PROBLEM_COLUMNS,
    ArticleFilter,
    article_rows,
    filter_choices,
    problem_rows,
)
from ui.admin.actions import Console

# id, title, language, collection, status, audience, updated, last indexed, cited, 👍, 👎, 👍 share
COLUMN_WIDTHS = ["13%", "21%", "5%", "8%", "7%", "6%", "8%", "12%", "5%", "5%", "5%", "5%"]


class KnowledgeActions:
    """The Knowledge tab's server side (each method starts with `Console.require`)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.services = console.services

    def status(self, language: str, collection: str, status: str, request: gr.Request) -> tuple[Any, ...]:
        """A summary line, the (filtered) articles table and the invalid files."""
        self.console.require("knowledge_status", request)
        kb = self.services.knowledge()
        chosen = ArticleFilter(language or ALL, collection or ALL, status or ALL)
        rows = article_rows(
            self.console.settings, kb, self.services.subjects.statistics, utc_now().date(), chosen
        )
        return (
            _summary(self.services.knowledge_status(), shown=len(rows)),
            pd.DataFrame(rows, columns=list(ARTICLE_COLUMNS)),
            pd.DataFrame(
                problem_rows(kb, self.console.settings.knowledge_dir), columns=list(PROBLEM_COLUMNS)
            ),
        )


def build_knowledge_tab(console: Console) -> gr.Tab:
    """The Knowledge tab (hidden until `Console.whoami` shows it to a role with `knowledge_status`)."""
    actions = KnowledgeActions(console)
    choices = filter_choices(console.services.knowledge())
    with gr.Tab("Knowledge", visible=False) as tab:
        with gr.Row():
            language = gr.Dropdown(choices["language"], value=ALL, label="Language")
            collection = gr.Dropdown(
                choices["collection"], value=ALL, label="Collection", allow_custom_value=True
            )
            status = gr.Dropdown(choices["status"], value=ALL, label="Status")
            refresh = gr.Button("Refresh")
        summary = gr.Markdown()
        articles = gr.Dataframe(
            label="Articles (click a column to sort; search and filter above the table)",
            headers=list(ARTICLE_COLUMNS),
            interactive=False,
            show_search="filter",
            wrap=True,
            column_widths=COLUMN_WIDTHS,
        )
        problems = gr.Dataframe(
            label="Invalid files (skipped by the index)",
            headers=list(PROBLEM_COLUMNS),
            interactive=False,
            wrap=True,
        )
        reindex = gr.Button("Reindex now", variant="primary")
        reindex_out = gr.Markdown()
        refresh.click(
            actions.status,
            [language, collection, status],
            [summary, articles, problems],
            api_name="knowledge_status",
        )
        reindex.click(console.reindex, None, reindex_out, api_name="reindex")
    return tab


def _summary(status: dict[str, Any], shown: int) -> str:
    """One line: how many articles, by status, invalid files, the last index run."""
    by_status = ", ".join(f"{count} {name}" for name, count in status["by_status"].items())
    last = status["last_index"]
    run = (
        f"last index run {last['at']} (added {last['summary'].get('added', 0)}, updated "
        f"{last['summary'].get('updated', 0)}, removed {last['summary'].get('removed', 0)})"
        if last["at"]
        else "not indexed yet: press Reindex"
    )
    invalid = len(status["problems"])
    return (
        f"**{status['articles']} articles** ({by_status}; {shown} shown) · "
        f"{'**' + str(invalid) + ' invalid file(s)**' if invalid else 'no invalid files'} · {run}"
    )
