"""The console's Import tab: bring an existing help center in as drafts (an upload or a website), see
the report, and resolve conflicts. Each action starts with `Console.require`; the work and its audit
entries are `agent.staff.importing.KnowledgeImports`'."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from agent.errors import AgentError
from agent.importing.sync import ImportReport
from agent.staff.importing import KnowledgeImports
from agent.staff.services import staff_actor
from ui.admin.actions import Console

UPLOAD_TYPES = [".html", ".htm", ".md", ".markdown", ".docx", ".pdf", ".zip", ".json"]
TAKE_SOURCE = "take the source version"
KEEP_MINE = "keep mine"
_CONFLICT_COLUMNS = ["draft file", "source changed at"]


class ImportConsole:
    """The server side of the Import tab."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.imports = KnowledgeImports(console.settings, console.services.subjects.audit)

    def run(
        self, upload: str | None, website: str, collection: str, language: str, request: gr.Request
    ) -> tuple[str, pd.DataFrame]:
        """Import the uploaded file or the website into the drafts folder; the report and the conflicts."""
        session = self.console.require("import_run", request)
        website = (website or "").strip()
        if bool(upload) == bool(website):
            raise gr.Error("Upload one file or give one website address (not both).")
        source = website or str(upload)
        try:
            report = self.imports.run(
                source,
                staff_actor(session.username),
                collection=(collection or "general").strip().lower(),
                language=language or "auto",  # type: ignore[arg-type]
                origin=None if website else Path(str(upload)).name,
                listed_sites_only=True,
            )
        except AgentError as exc:  # an undeclared host, an unreadable export …: nothing was written
            raise gr.Error(str(exc)) from None
        return report_markdown(report), self._conflict_frame()

    def conflicts(self, request: gr.Request) -> pd.DataFrame:
        """Drafts edited here whose source changed too."""
        self.console.require("import_conflicts", request)
        return self._conflict_frame()

    def resolve(self, file: str, choice: str, request: gr.Request) -> tuple[str, pd.DataFrame]:
        """Take the source's version of a conflicting draft, or keep the local one."""
        session = self.console.require("import_resolve", request)
        if not (file or "").strip() or choice not in (TAKE_SOURCE, KEEP_MINE):
            raise gr.Error(
                f"Give the draft file (from the list) and choose '{TAKE_SOURCE}' or '{KEEP_MINE}'."
            )
        try:
            self.imports.resolve(
                file.strip(), take_source=choice == TAKE_SOURCE, actor=staff_actor(session.username)
            )
        except AgentError as exc:
            raise gr.Error(str(exc)) from None
        return f"{file.strip()}: {choice}.", self._conflict_frame()

    def _conflict_frame(self) -> pd.DataFrame:
        rows = [[c.file, c.since] for c in self.imports.conflicts()]
        return pd.DataFrame(rows, columns=_CONFLICT_COLUMNS)


def report_markdown(report: ImportReport) -> str:
    """The report as a support lead reads it: the counts, then what needs attention."""
    counts = " · ".join(f"**{count}** {name}" for name, count in report.counts().items())
    lines = [f"Imported into `{report.into}` as drafts: {counts}"]
    details = report.detail_lines()
    if details:
        lines += ["", *[f"- {line}" for line in details]]
    lines += ["", "Drafts never reach customers. Reindex, simulate, then publish them when they are right."]
    return "\n".join(lines)


def build_import_tab(console: Console) -> gr.Tab:
    """The Import tab, wired to its actions (api names import_run, import_conflicts, import_resolve)."""
    imports = ImportConsole(console)
    with gr.Tab("Import", visible=False) as tab:
        with gr.Row():
            upload = gr.File(
                label="HTML, Markdown, DOCX or PDF files (or a .zip of them), or a Zendesk / Freshdesk "
                "JSON export",
                file_types=UPLOAD_TYPES,
                type="filepath",
            )
            with gr.Column():
                website = gr.Textbox(label="… or a website: its sitemap.xml or a start page")
                collection = gr.Textbox(value="general", label="Collection")
                language = gr.Dropdown(["auto", "de", "en"], value="auto", label="Language")
                run = gr.Button("Import as drafts", variant="primary")
        report = gr.Markdown()
        load = gr.Button("Show conflicts")
        conflicts = gr.Dataframe(label="Conflicts: edited here and changed at the source", wrap=True)
        with gr.Row():
            file = gr.Textbox(label="Draft file")
            choice = gr.Radio([TAKE_SOURCE, KEEP_MINE], value=KEEP_MINE, label="Resolve")
            resolve = gr.Button("Resolve")
        resolved = gr.Markdown()
        run.click(
            imports.run, [upload, website, collection, language], [report, conflicts], api_name="import_run"
        )
        load.click(imports.conflicts, None, conflicts, api_name="import_conflicts")
        resolve.click(imports.resolve, [file, choice], [resolved, conflicts], api_name="import_resolve")
    return tab
