"""The support lead's overview, without any UI: answer figures per day or week from the anonymous answer
statistics (agent.privacy.answer_stats) – questions, answered, refused, handed off, answer rate,
deflection, 👍/👎, satisfaction, median answer time – and the most cited articles. Counts only.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

from agent.privacy.answer_stats import AnswerRow, AnswerStatistics, HandoffCount, RatingCount

PERIODS = {"last 7 days": 7, "last 30 days": 30, "last 90 days": 90}
GROUPINGS = ("per day", "per week")
COLUMNS = (
    "period",
    "questions",
    "answered",
    "refused",
    "handed off",
    "answer rate",
    "deflection",
    "thumbs up",
    "thumbs down",
    "satisfaction",
    "median answer s",
)


@dataclass(frozen=True)
class Figures:
    """The figures of one day or week (rates are shares from 0 to 1, None when there is nothing to
    divide by)."""

    period: str
    questions: int
    answered: int
    refused: int
    handed_off: int
    deflected: int  # answered and not followed by a handoff in the same conversation
    thumbs_up: int
    thumbs_down: int
    median_seconds: float | None

    @property
    def answer_rate(self) -> float | None:
        """Answered share of the questions."""
        return _share(self.answered, self.questions)

    @property
    def deflection(self) -> float | None:
        """Share of the questions answered without a handoff after them."""
        return _share(self.deflected, self.questions)

    @property
    def satisfaction(self) -> float | None:
        """👍 share of the ratings."""
        return _share(self.thumbs_up, self.thumbs_up + self.thumbs_down)

    def row(self) -> list[object]:
        """The figures in COLUMNS order (rates rounded to whole percent as fractions, e.g. 0.83)."""
        return [
            self.period,
            self.questions,
            self.answered,
            self.refused,
            self.handed_off,
            _round(self.answer_rate),
            _round(self.deflection),
            self.thumbs_up,
            self.thumbs_down,
            _round(self.satisfaction),
            self.median_seconds,
        ]


@dataclass(frozen=True)
class CitedArticle:
    """How often an article was cited in the period, and the ratings of the answers citing it."""

    article: str
    cited: int
    thumbs_up: int
    thumbs_down: int


@dataclass(frozen=True)
class Overview:
    """One period's figures: per day or week (oldest first), the total, and the cited articles."""

    start: date
    today: date
    rows: list[Figures]
    total: Figures
    cited: list[CitedArticle]


def overview(statistics: AnswerStatistics, days: int, today: date, *, weekly: bool = False) -> Overview:
    """The figures of the last `days` days (today included) from the anonymous statistics."""
    start = period_start(days, today)
    answers = statistics.answers(start)
    ratings = statistics.ratings(start)
    rows = figures(answers, ratings, statistics.handoffs(start), start=start, today=today, weekly=weekly)
    return Overview(start, today, rows, total(rows, answers), cited_articles(answers, ratings))


def period_start(days: int, today: date) -> date:
    """The first day of a period of `days` days ending today."""
    return today - timedelta(days=days - 1)


def period_of(day: str, weekly: bool) -> str:
    """The label a day falls in: the day itself, or its ISO week ("2026-W48")."""
    if not weekly:
        return day
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def first_day(label: str) -> date:
    """The first day of a period label (a day, or an ISO week's Monday)."""
    if "-W" in label:
        year, week = label.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    return date.fromisoformat(label)


def figures(
    answers: list[AnswerRow],
    ratings: list[RatingCount],
    handoffs: list[HandoffCount],
    *,
    start: date,
    today: date,
    weekly: bool = False,
) -> list[Figures]:
    """Figures per day (every day of the period, empty ones too) or per ISO week, oldest first."""
    labels = list(
        dict.fromkeys(
            period_of((start + timedelta(days=n)).isoformat(), weekly)
            for n in range((today - start).days + 1)
        )
    )
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    seconds: dict[str, list[float]] = defaultdict(list)
    for row in answers:
        label = period_of(row.day, weekly)
        outcomes[label][row.outcome] += 1
        if row.seconds is not None:
            seconds[label].append(row.seconds)
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for rating in ratings:
        label = period_of(rating.day, weekly)
        votes[label]["up"] += rating.up
        votes[label]["down"] += rating.down
    handed: dict[str, Counter[str]] = defaultdict(Counter)
    for handoff in handoffs:
        handed[period_of(handoff.day, weekly)][handoff.after] += handoff.count
    out = []
    for label in labels:
        answered, refused = outcomes[label]["answered"], outcomes[label]["refused"]
        times = seconds[label]
        out.append(
            Figures(
                period=label,
                questions=answered + refused,
                answered=answered,
                refused=refused,
                handed_off=sum(handed[label].values()),
                deflected=max(answered - handed[label]["answered"], 0),
                thumbs_up=votes[label]["up"],
                thumbs_down=votes[label]["down"],
                median_seconds=round(median(times), 1) if times else None,
            )
        )
    return out


def total(rows: list[Figures], answers: list[AnswerRow], label: str = "total") -> Figures:
    """The whole period in one row (its median over every answer time, not a median of medians)."""
    times = [a.seconds for a in answers if a.seconds is not None]
    return Figures(
        period=label,
        questions=sum(r.questions for r in rows),
        answered=sum(r.answered for r in rows),
        refused=sum(r.refused for r in rows),
        handed_off=sum(r.handed_off for r in rows),
        deflected=sum(r.deflected for r in rows),
        thumbs_up=sum(r.thumbs_up for r in rows),
        thumbs_down=sum(r.thumbs_down for r in rows),
        median_seconds=round(median(times), 1) if times else None,
    )


def cited_articles(answers: list[AnswerRow], ratings: list[RatingCount]) -> list[CitedArticle]:
    """Every cited article with its count and ratings, most cited first (ties by id)."""
    cited = Counter(a.article for a in answers if a.article)
    up: Counter[str] = Counter()
    down: Counter[str] = Counter()
    for rating in ratings:
        if rating.article:
            up[rating.article] += rating.up
            down[rating.article] += rating.down
    articles = set(cited) | set(up) | set(down)
    return sorted(
        (CitedArticle(a, cited[a], up[a], down[a]) for a in articles),
        key=lambda c: (-c.cited, c.article),
    )


def csv_text(rows: list[Figures]) -> str:
    """The figures as CSV (COLUMNS as the header): counts and shares, nothing else."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row.row()])
    return out.getvalue()


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None
