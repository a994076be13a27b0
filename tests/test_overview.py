"""The support lead's overview and the Knowledge tab through the real app: chat turns, ratings and a
handoff become anonymous statistics (no text, subject or time of day in the table), the overview's
figures and CSV export match them, the articles table shows cited counts and an invalid file with its
field, a role without the action is refused, and retention purges old statistics."""

from __future__ import annotations

import csv
import re
import shutil
import sqlite3
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.privacy.answer_stats import AnswerRow, AnswerStatistics, HandoffCount, RatingCount
from agent.privacy.subjects import DataSubjects
from agent.settings import Settings
from agent.staff.overview import COLUMNS, figures, total
from agent.wiring import build_services
from tests.browser import chromium_page, expect, screenshot
from tests.conftest import KNOWLEDGE_DIR, make_settings, write_article
from tests.support import BackgroundServer, console_client, message_text, password_login
from ui.app import create_app

PASSWORD = "correct horse battery staple"
ANSWERED = "How long do I have to return an item?"
REFUSED = "Wie wird das Wetter morgen in Hamburg?"
CONTACT = "jana.kowalski@example.de"
LAST_WEEK = ("last 7 days", "per day")


@dataclass
class Site:
    url: str
    settings: Settings
    subjects: DataSubjects

    def console(self, username: str):  # noqa: ANN201 - gradio_client.Client
        return console_client(self.url, password_login(self.url, username, PASSWORD))

    def customer(self):  # noqa: ANN201
        from gradio_client import Client

        return Client(self.url, verbose=False, download_files=False)

    def stats_table(self) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The answer statistics table as stored: (columns, rows)."""
        db = sqlite3.connect(self.settings.store_path)
        try:
            cursor = db.execute("SELECT * FROM answer_stats")
            return [c[0] for c in cursor.description], cursor.fetchall()
        finally:
            db.close()


@pytest.fixture(scope="module")
def site(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("overview-data")
    shutil.copytree(demo_data_dir / "index", data_dir / "index")
    knowledge = tmp_path_factory.mktemp("overview-knowledge") / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, knowledge)
    write_article(knowledge, "broken-article", language="english")  # invalid: the language field
    settings = make_settings(data_dir, knowledge_dir=knowledge, staff_two_factor_roles=[])
    services = build_services(settings)
    for role in ("support_lead", "privacy_officer", "admin"):
        services.staff.add(role.replace("_", "-"), role, PASSWORD)
    server = BackgroundServer(create_app(services))
    try:
        yield Site(server.start(), settings, services.subjects)
    finally:
        server.stop()


def test_chat_turns_ratings_and_handoffs_are_counted_without_anything_personal(site: Site) -> None:
    lead = site.console("support-lead")
    before = _total(lead.predict(*LAST_WEEK, api_name="/overview")[1])

    kept = site.customer()
    _, code, *_ = kept.predict(api_name="/consent_store")
    _, chat = kept.predict(ANSWERED, api_name="/chat")
    assert "Source:" in message_text(chat[-1])
    kept.predict(api_name="/rate_up")
    kept.predict(api_name="/rate_up")  # a second click on the same answer is not counted again
    kept.predict(REFUSED, api_name="/chat")  # kept, so it also becomes a knowledge gap
    anonymous = site.customer()
    anonymous.predict(api_name="/consent_none")
    _, chat = anonymous.predict(REFUSED, api_name="/chat")
    anonymous.predict(api_name="/rate_down")
    status = anonymous.predict(CONTACT, True, api_name="/handoff")
    assert "Ticket" in (status if isinstance(status, str) else status[0])
    objecting = site.customer()  # objected to improving the help center: not counted at all
    _, objected, *_ = objecting.predict(api_name="/consent_store")
    site.subjects.limit_processing(objected, "object", actor="test")
    objecting.predict(ANSWERED, api_name="/chat")
    objecting.predict(api_name="/rate_down")

    columns, rows = site.stats_table()
    assert columns == ["day", "outcome", "seconds", "article", "language"]  # no subject, session or text
    stored = " ".join(str(value) for row in rows for value in row)
    for personal in (code, objected, CONTACT, "return an item", "Hamburg"):
        assert personal not in stored
    assert not re.search(r"\d:\d\d", stored)  # no time of day
    today = datetime.now(UTC).date().isoformat()
    mine = rows[-3:]
    assert [r[0] for r in mine] == [today] * 3
    assert [r[1] for r in mine] == ["answered", "refused", "refused"]
    assert mine[0][3] and mine[1][3] is None  # the answer cites its article, a refusal none
    assert all(r[2] is not None and round(r[2], 1) == r[2] for r in mine)  # tenths of a second

    headline, table, counts, rates, ratings, cited, gaps = lead.predict(*LAST_WEEK, api_name="/overview")
    after = _total(table)
    assert table["headers"] == list(COLUMNS)
    delta = {k: after[k] - before[k] for k in ("questions", "answered", "refused", "handed off")}
    assert delta == {"questions": 3, "answered": 1, "refused": 2, "handed off": 1}
    assert (after["thumbs up"] - before["thumbs up"], after["thumbs down"] - before["thumbs down"]) == (1, 1)
    week_start = (datetime.now(UTC).date() - timedelta(days=6)).isoformat()
    times = [r[2] for r in rows if r[0] >= week_start and r[2] is not None]
    assert after["median answer s"] == round(statistics.median(times), 1)
    assert after["answer rate"] == round(after["answered"] / after["questions"], 2)
    assert "questions" in headline and "answer rate" in headline
    assert {p["figure"] for p in _plot_rows(counts)} == {"questions", "answered", "refused", "handed off"}
    assert any(r[0] == mine[0][3] and r[2] >= 1 for r in cited["data"])  # the cited article is listed
    assert gaps["headers"] == ["asked", "refused", "thumbs down", "closest article", "relevance"]
    assert gaps["data"] and gaps["data"][0][0] >= 1 and gaps["data"][0][3]  # a count and the closest article
    assert "Hamburg" not in str(gaps["data"])  # grouped counts only, never the question


def test_overview_csv_has_the_figures_and_no_text(site: Site) -> None:
    lead = site.console("support-lead")
    table = lead.predict("last 30 days", "per week", api_name="/overview")[1]
    exported = lead.predict("last 30 days", "per week", api_name="/overview_csv")
    path = Path(exported if isinstance(exported, str) else exported["path"])
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(COLUMNS)
    assert rows[-1][0] == "total" and all(r[0].startswith(("20", "total")) for r in rows[1:])
    assert len(rows) - 1 == len(table["data"])
    assert [int(v) for v in rows[-1][1:5]] == [int(v) for v in table["data"][0][1:5]]  # the totals
    assert [r[0] for r in rows[1:-1]] == [r[0] for r in table["data"][:0:-1]]  # oldest first in the file
    with pytest.raises(Exception, match="not in the list of choices"):  # checked before any work
        lead.predict("last 365 days", "per day", api_name="/overview_csv")
    text = path.read_text(encoding="utf-8")
    assert "Hamburg" not in text and "@" not in text and "return an item" not in text


def test_articles_table_shows_cited_counts_and_invalid_files(site: Site) -> None:
    site.subjects.statistics.record_answer(
        None, refused=False, seconds=3.14, article="en-returns", language="en"
    )
    site.subjects.statistics.record_rating(None, "en-returns", helpful=True)
    lead = site.console("support-lead")
    summary, articles, problems = lead.predict("all", "all", "all", api_name="/knowledge_status")
    headers = articles["headers"]
    assert headers[:8] == [
        "id",
        "title",
        "language",
        "collection",
        "status",
        "audience",
        "updated",
        "last indexed",
    ]
    assert headers[8:] == ["cited", "thumbs up", "thumbs down", "thumbs up share"]
    by_id = {row[0]: dict(zip(headers, row, strict=True)) for row in articles["data"]}
    assert len(by_id) == 47 and "47 articles" in summary and "1 invalid file" in summary
    since = date.today() - timedelta(days=site.settings.statistics_retention_days)
    stored = [a for a in site.subjects.statistics.answers(since) if a.article == "en-returns"]
    row = by_id["en-returns"]
    assert row["cited"] == len(stored) >= 1 and row["thumbs up"] >= 1
    assert row["last indexed"] and row["status"] == "published"
    assert problems["headers"] == ["file", "field", "message"]
    assert [(Path(p[0]).name, p[1]) for p in problems["data"]] == [("broken-article.md", "language")]

    _, german, _ = lead.predict("de", "all", "draft", api_name="/knowledge_status")
    assert [r[0] for r in german["data"]] == ["draft-same-day-berlin"]


def test_a_role_without_the_overview_is_refused(site: Site) -> None:
    for username in ("privacy-officer", "admin"):
        console = site.console(username)
        for api in ("/overview", "/overview_csv"):
            with pytest.raises(Exception, match="may not use"):
                console.predict(*LAST_WEEK, api_name=api)
    refused = [e for e in site.subjects.audit.entries() if e["details"].get("action") == "overview"]
    assert refused and not any(e["details"]["allowed"] for e in refused[-4:])


def test_retention_purges_old_statistics_and_keeps_recent_ones(site: Site) -> None:
    now = datetime.now(UTC)
    old_day = now - timedelta(days=site.settings.statistics_retention_days + 2)
    past = AnswerStatistics(site.subjects.store, clock=lambda: old_day)
    past.record_answer(None, refused=True, seconds=1.0, article=None, language="de")
    past.record_rating(None, None, helpful=False)
    past.record_handoff(None, "refused")
    site.subjects.statistics.record_answer(None, refused=False, seconds=1.2, article=None, language="en")
    old = old_day.date()
    assert [a.day for a in site.subjects.statistics.answers(old)][0] == old.isoformat()

    restricted = site.subjects.consent_to_store()
    site.subjects.limit_processing(restricted, "restrict", actor="test")
    assert not site.subjects.statistics.counts(restricted) and site.subjects.statistics.counts(None)

    summary = site.subjects.purge(actor="test")
    assert summary["answer_statistics_deleted"] == 3
    assert summary["statistics_retention_days"] == site.settings.statistics_retention_days
    assert all(a.day > old.isoformat() for a in site.subjects.statistics.answers(old))
    assert site.subjects.statistics.answers(now.date())  # today's rows stay


def test_overview_and_knowledge_tabs_in_headless_chromium(site: Site) -> None:
    for days_ago, answered in ((2, 3), (4, 1), (6, 2)):  # a few earlier days, so the charts draw lines
        moment = datetime.now(UTC) - timedelta(days=days_ago)
        earlier = AnswerStatistics(site.subjects.store, clock=lambda moment=moment: moment)
        for n in range(answered):
            earlier.record_answer(None, refused=False, seconds=2.0 + n, article="en-returns", language="en")
        earlier.record_answer(None, refused=True, seconds=0.3, article=None, language="de")
        earlier.record_rating(None, "en-returns", helpful=days_ago != 4)
    requests: list[str] = []
    with chromium_page(requests, viewport={"width": 1400, "height": 1000}) as page:
        page.goto(site.url + "admin/")
        page.locator("#username").fill("support-lead")
        page.locator("#password").fill(PASSWORD)
        page.locator("#login").click()
        expect(page.get_by_role("tab", name="Overview")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_text("answer rate").first).to_be_visible(timeout=60_000)
        expect(page.get_by_role("gridcell", name="total")).to_be_visible()
        expect(page.get_by_role("gridcell", name="en-returns").first).to_be_visible()
        screenshot(page, "console-overview.png")
        page.get_by_role("tab", name="Knowledge", exact=True).click()
        page.get_by_role("button", name="Refresh").click()
        expect(page.get_by_text("1 invalid file(s)")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("gridcell", name="broken-article.md").first).to_be_visible()
        screenshot(page, "console-knowledge.png")
    assert all(url.startswith((site.url.rstrip("/"), "data:", "blob:")) for url in requests)


def test_figures_per_day_and_week() -> None:
    start, today = date(2026, 11, 23), date(2026, 11, 30)  # Monday to the next Monday
    answers = [
        AnswerRow("2026-11-23", "answered", 2.0, "a", "en"),
        AnswerRow("2026-11-23", "answered", 4.0, "b", "de"),
        AnswerRow("2026-11-24", "refused", 0.5, None, "de"),
        AnswerRow("2026-11-30", "answered", 9.0, "a", "en"),
    ]
    ratings = [RatingCount("2026-11-23", "a", 2, 1), RatingCount("2026-11-30", "a", 0, 1)]
    handoffs = [HandoffCount("2026-11-23", "answered", 1), HandoffCount("2026-11-24", "refused", 1)]
    days = figures(answers, ratings, handoffs, start=start, today=today)
    assert [d.period for d in days][:2] == ["2026-11-23", "2026-11-24"] and len(days) == 8
    first = days[0]
    assert (first.questions, first.answered, first.handed_off, first.deflected) == (2, 2, 1, 1)
    assert (first.deflection, first.satisfaction, first.median_seconds) == (0.5, 2 / 3, 3.0)
    assert days[2].questions == 0 and days[2].answer_rate is None  # empty days are shown, not divided
    weeks = figures(answers, ratings, handoffs, start=start, today=today, weekly=True)
    assert [w.period for w in weeks] == ["2026-W48", "2026-W49"]
    assert (weeks[0].questions, weeks[0].refused, weeks[0].handed_off) == (3, 1, 2)
    whole = total(weeks, answers)
    assert (whole.questions, whole.thumbs_up, whole.thumbs_down, whole.median_seconds) == (4, 2, 2, 3.0)


def _total(table: dict[str, Any]) -> dict[str, Any]:
    """The overview table's total row (its first) by column name (missing values as 0)."""
    row = dict(zip(table["headers"], table["data"][0], strict=True))
    assert row["period"] == "total"
    return {k: (v if v is not None else 0) for k, v in row.items()}


def _plot_rows(plot: dict[str, Any]) -> list[dict[str, Any]]:
    value = plot["value"] if "value" in plot else plot
    columns = value["columns"]
    return [dict(zip(columns, row, strict=True)) for row in value["data"]]
