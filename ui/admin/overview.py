"""The console's Overview tab: answer figures per day or week, charts, the most cited articles, the
largest knowledge gaps and a CSV export – counts only, from the anonymous answer statistics
(agent.staff.overview). Every call is checked on the server for the `overview` action."""

from __future__ import annotations

import secrets
import time
from typing import Any

import gradio as gr
import pandas as pd

from agent.clock import utc_now
from agent.errors import AgentError
from agent.staff.overview import COLUMNS, GROUPINGS, PERIODS, Overview, csv_text, first_day, overview
from ui.admin.actions import Console

COUNTS = ("questions", "answered", "refused", "handed off")
RATES = ("answer rate", "deflection", "satisfaction")
CITED_COLUMNS = ["article", "title", "cited", "thumbs up", "thumbs down"]
GAP_COLUMNS = ["asked", "refused", "thumbs down", "closest article", "relevance"]
TOP = 10
EXPORT_KEEP_S = 3600  # earlier CSV exports are removed by the next export after an hour


class OverviewActions:
    """The Overview tab's server side (each method starts with `Console.require`)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.services = console.services

    def show(self, period: str, grouping: str, request: gr.Request) -> tuple[Any, ...]:
        """Headline, table, three charts, top cited articles and top gaps of the chosen period."""
        self.console.require("overview", request)
        report = self._report(period, grouping)
        table = _table(report)
        since = report.start.isoformat()
        return (
            _headline(report, period),
            table,
            _long(table, COUNTS, "count"),
            _long(table, RATES, "share"),
            _long(table, ("thumbs up", "thumbs down"), "count"),
            self._cited(report),
            self._gaps(since),
        )

    def export(self, period: str, grouping: str, request: gr.Request) -> str:
        """The table of the chosen period as a CSV file (counts and shares only)."""
        self.console.require("overview", request)
        report = self._report(period, grouping)
        folder = self.console.settings.temp_dir / "overview"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for earlier in folder.glob("overview-*.csv"):  # counts only, still: keep no pile of copies
            if time.time() - earlier.stat().st_mtime > EXPORT_KEEP_S:
                earlier.unlink(missing_ok=True)
        per = "week" if grouping == "per week" else "day"
        path = folder / f"overview-{report.start}-{report.today}-per-{per}-{secrets.token_hex(3)}.csv"
        path.write_text(csv_text([*report.rows, report.total]), encoding="utf-8")
        return str(path)

    def _report(self, period: str, grouping: str) -> Overview:
        if period not in PERIODS:
            raise gr.Error(f"Choose a period: {', '.join(PERIODS)}.")
        if grouping not in GROUPINGS:
            raise gr.Error(f"Choose {' or '.join(GROUPINGS)}.")
        try:
            return overview(
                self.services.subjects.statistics,
                PERIODS[period],
                utc_now().date(),
                weekly=grouping == "per week",
            )
        except AgentError as exc:  # e.g. the store cannot be read
            raise gr.Error(str(exc)) from None

    def _cited(self, report: Overview) -> pd.DataFrame:
        titles = {a.id: a.meta.title for a in self.services.knowledge().articles}
        rows = [
            [
                c.article,
                titles.get(c.article, "(no longer in the help center)"),
                c.cited,
                c.thumbs_up,
                c.thumbs_down,
            ]
            for c in report.cited[:TOP]
        ]
        return pd.DataFrame(rows, columns=CITED_COLUMNS)

    def _gaps(self, since: str) -> pd.DataFrame:
        """The largest groups of unanswered or 👎 questions: counts and the closest article, no text."""
        rows = [
            [
                g.size,
                g.kinds.get("refused", 0),
                g.kinds.get("thumbs_down", 0),
                g.closest_article,
                round(g.closest_score, 3),
            ]
            for g in self.services.gaps(since)[:TOP]
        ]
        return pd.DataFrame(rows, columns=GAP_COLUMNS)


def build_overview_tab(console: Console) -> gr.Tab:
    """The Overview tab (hidden until `Console.whoami` shows it to a role with `overview`)."""
    actions = OverviewActions(console)
    with gr.Tab("Overview", visible=False) as tab:
        with gr.Row():
            period = gr.Radio(list(PERIODS), value="last 30 days", label="Period")
            grouping = gr.Radio(list(GROUPINGS), value="per day", label="Rows")
            show = gr.Button("Show", variant="primary")
            export = gr.Button("Export CSV")
        headline = gr.Markdown()
        table = gr.Dataframe(label="Figures (shares from 0 to 1)", headers=list(COLUMNS), interactive=False)
        with gr.Row():
            counts = gr.LinePlot(x="period", y="count", color="figure", title="Questions and outcomes")
            rates = gr.LinePlot(
                x="period",
                y="share",
                color="figure",
                title="Answer rate, deflection, satisfaction",
                y_lim=[0, 1],
            )
        ratings = gr.BarPlot(x="period", y="count", color="figure", title="Thumbs up and down")
        with gr.Row():
            cited = gr.Dataframe(label="Most cited articles", headers=CITED_COLUMNS, interactive=False)
            gaps = gr.Dataframe(
                label="Largest knowledge gaps (grouped, no question text)",
                headers=GAP_COLUMNS,
                interactive=False,
            )
        csv_file = gr.File(label="Figures as CSV", interactive=False)
        show.click(
            actions.show,
            [period, grouping],
            [headline, table, counts, rates, ratings, cited, gaps],
            api_name="overview",
        )
        export.click(actions.export, [period, grouping], csv_file, api_name="overview_csv")
    return tab


def _table(report: Overview) -> pd.DataFrame:
    """The total first, then the days or weeks newest first: what a lead looks for is on top."""
    return pd.DataFrame([row.row() for row in [report.total, *report.rows[::-1]]], columns=list(COLUMNS))


def _long(table: pd.DataFrame, columns: tuple[str, ...], value: str) -> pd.DataFrame:
    """Columns of the table (without its total row) as (period, figure, value) rows for a chart."""
    per_period = table[table["period"] != "total"]
    long = per_period.melt(id_vars="period", value_vars=list(columns), var_name="figure", value_name=value)
    long["period"] = pd.to_datetime(long["period"].map(first_day))  # a time axis, not one label per row
    return long.dropna(subset=[value])


def _headline(report: Overview, period: str) -> str:
    t = report.total
    if not t.questions and not t.handed_off:
        return f"No questions in the {period} ({report.start} – {report.today}, UTC)."

    def pct(share: float | None) -> str:
        return f"{share:.0%}" if share is not None else "–"

    median = f"{t.median_seconds} s" if t.median_seconds is not None else "–"
    return (
        f"**{period.capitalize()}** ({report.start} – {report.today}, UTC): **{t.questions}** questions, "
        f"answer rate **{pct(t.answer_rate)}**, deflection **{pct(t.deflection)}**, "
        f"{t.handed_off} handed off, satisfaction **{pct(t.satisfaction)}** "
        f"({t.thumbs_up} 👍 / {t.thumbs_down} 👎), median answer time {median}."
    )
