"""Simulation mode: a tiny replay through the CLI, in its own index, with the real small model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.evaluation.report import render_report
from agent.evaluation.simulate import SimulationError, load_questions, summarize
from tests.conftest import KNOWLEDGE_DIR, MODELS_DIR, SMALL_CHAT_MODEL

QUESTIONS = [
    {
        "id": "q1",
        "question": "wie lange hab ich zeit zum zurückschicken",
        "expected_article": "de-ruecksendung",
    },
    {
        "id": "q2",
        "question": "do you take paypal",
        "expected_article": "en-payment-methods",
        "language": "en",
    },
    {"id": "q3", "question": "What is the capital of Australia?", "expected_article": None},
    {"id": "q4", "question": "was kostet nordlicht plus im jahr", "expected_article": None, "language": "de"},
]
RESULT_KEYS = {"id", "question", "answer", "citations", "refused", "retrieved", "read", "scores", "timings"}


def _simulate(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    questions = tmp_path / "tickets.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n", encoding="utf-8")
    env = {
        **os.environ,
        "SUPPORT_AGENT_MODELS_DIR": str(MODELS_DIR),
        "SUPPORT_AGENT_CHAT_MODEL": SMALL_CHAT_MODEL,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    args = [
        "simulate",
        "--questions",
        str(questions),
        "--knowledge",
        str(KNOWLEDGE_DIR),
        "--out",
        str(tmp_path / "out"),
    ]
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args, *extra],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("mode", [[], ["--retrieval-only"]])
def test_simulate_writes_results_summary_and_report(tmp_path: Path, mode: list[str]) -> None:
    result = _simulate(tmp_path, *mode)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4"]
    for row in rows:
        assert RESULT_KEYS <= set(row)
        assert {"retrieve_s", "ttft_s", "total_s"} <= set(row["timings"])
        assert all(set(c) == {"id", "title", "url"} for c in row["citations"])
    assert rows[2]["refused"] is True and rows[2]["citations"] == []
    assert rows[0]["retrieved"][0] == "de-ruecksendung"

    summary = json.loads((out / "summary.json").read_text())
    overall = summary["overall"]
    for key in (
        "recall@1",
        "recall@3",
        "recall@5",
        "mrr",
        "citation_accuracy",
        "refusal_rate_must_refuse",
        "false_refusal_rate",
        "false_refusals_listing_the_article",
        "guard_removed_sentences",
        "latency_total_s",
        "latency_ttft_s",
    ):
        assert key in overall
    assert overall["answerable"] == 2 and overall["must_refuse"] == 2
    assert set(summary["by_language"]) == {"de", "en"}

    assert summary["articles"] == 47 and summary["invalid_articles"] == []
    report = (out / "report.html").read_text()
    assert "<svg" in report and "Simulation report" in report and "skipped as invalid" not in report
    flagged = render_report({**summary, "invalid_articles": ["drafts/x.md [audience]: missing"]}, rows)
    assert "1 article file(s) were skipped as invalid" in flagged and "x.md [audience]: missing" in flagged
    assert "<script" not in report and "<link" not in report  # self-contained, nothing fetched
    assert not (tmp_path / "data").exists()  # the live data dir was never created or touched
    assert (out / "data" / "index").is_dir()  # the simulation's own index


def test_questions_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "question": "ok"}\n{not json}\n', encoding="utf-8")
    with pytest.raises(SimulationError, match="bad.jsonl:2: not valid JSON"):
        load_questions(path)
    path.write_text('{"id": "a", "question": ""}\n', encoding="utf-8")
    with pytest.raises(SimulationError, match='bad.jsonl:1: each line needs a "question"'):
        load_questions(path)
    with pytest.raises(SimulationError, match="does not exist"):
        load_questions(tmp_path / "missing.jsonl")


def test_dev_set_is_large_and_balanced() -> None:
    questions = load_questions(Path(__file__).resolve().parent.parent / "eval" / "dev.jsonl")
    answerable = [q for q in questions if q.expected_article]
    assert sum(q.language == "de" for q in answerable) >= 50
    assert sum(q.language == "en" for q in answerable) >= 50
    assert len(questions) - len(answerable) >= 40


def test_a_handoff_that_listed_the_expected_article_is_counted() -> None:
    # A handoff after reading lists the articles read: the figure says how many false refusals still
    # showed the customer the right article.
    def row(expected: str, read: list[str], refused: bool = True) -> dict[str, object]:
        return {
            "language": "de", "expected_article": expected, "refused": refused, "read": read,
            "refusal": "guard" if refused else "", "retrieved": read, "citations": [], "timings": {},
            "guard_removed": [], "extractive": False, "unsupported_facts": [],
        }  # fmt: skip

    rows = [row("de-a", ["de-a", "de-b"]), row("de-a", ["de-b"]), row("de-a", ["de-a"], refused=False)]
    assert summarize(rows)["overall"]["false_refusals_listing_the_article"] == 1
