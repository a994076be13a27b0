"""Replay a file of past tickets through a pipeline: results.jsonl, summary.json and report.html."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from agent.answering.answer import Answer
from agent.answering.assistant import SupportAgent
from agent.answering.guard import unsupported_facts
from agent.errors import AgentError, MessageError
from agent.knowledge.articles import KnowledgeBase


class SimulationError(AgentError):
    """The questions file cannot be used."""


@dataclass(frozen=True)
class Question:
    """One line of a questions file."""

    id: str
    question: str
    expected_article: str | None
    language: str | None = None


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL or CSV questions file (columns: question, optional id, expected_article, language);
    errors name the line and what is wrong."""
    if not path.is_file():
        raise SimulationError(f"The questions file {path} does not exist.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SimulationError(f"{path} is not UTF-8 text.") from None
    rows = _csv_rows(path, text) if path.suffix.lower() == ".csv" else _jsonl_rows(path, text)
    questions: list[Question] = []
    seen: set[str] = set()
    for number, row in rows:
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("question"), str)
            or not row["question"].strip()
        ):
            raise SimulationError(f'{path}:{number}: each line needs a "question" text.')
        qid = str(row.get("id") or f"line-{number}")
        if qid in seen:
            raise SimulationError(f"{path}:{number}: duplicate id '{qid}'.")
        seen.add(qid)
        expected = row.get("expected_article")
        questions.append(
            Question(qid, row["question"], str(expected) if expected else None, row.get("language") or None)
        )
    if not questions:
        raise SimulationError(f"{path} holds no questions.")
    return questions


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise SimulationError(f"{path}:{number}: not valid JSON ({exc.msg}).") from None
    return rows


def _csv_rows(path: Path, text: str) -> list[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "question" not in [f.strip() for f in reader.fieldnames]:
        raise SimulationError(f'{path}: the first line must name the columns, with at least "question".')
    return [
        (number, {k.strip(): (v or "").strip() for k, v in row.items() if k})
        for number, row in enumerate(reader, start=2)
    ]


def run_simulation(
    pipeline: SupportAgent,
    questions: list[Question],
    out_dir: Path,
    *,
    kb: KnowledgeBase,
    retrieval_only: bool = False,
    label: str = "ours",
    progress: bool = True,
) -> dict[str, Any]:
    """Ask every question, write the three output files and return the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bodies = {a.id: a.body for a in kb.articles}
    results: list[dict[str, Any]] = []
    with (out_dir / "results.jsonl").open("w", encoding="utf-8") as out:
        for question in tqdm(questions, desc=f"Simulating ({label})", unit="question", disable=not progress):
            result = _replay(pipeline, question, bodies, retrieval_only)
            results.append(result)
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
    summary = summarize(results, label=label, retrieval_only=retrieval_only)
    summary["articles"] = len(kb.articles)
    summary["invalid_articles"] = [str(problem) for problem in kb.problems]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    from agent.evaluation.report import render_report

    (out_dir / "report.html").write_text(render_report(summary, results), encoding="utf-8")
    return summary


def _replay(
    pipeline: SupportAgent, question: Question, bodies: dict[str, str], retrieval_only: bool
) -> dict[str, Any]:
    try:
        answer = (
            pipeline.retrieve_only(question.question) if retrieval_only else pipeline.ask(question.question)
        )
    except MessageError as exc:
        answer = Answer(str(exc), [], True, question.language or "en", done=True)
    cited_text = "\n".join([question.question] + [bodies.get(c.id, "") for c in answer.citations])
    unsupported = [] if answer.refused or retrieval_only else unsupported_facts(answer.text, cited_text)
    return {
        "id": question.id,
        "question": answer.question or "[not processed]",  # redacted: reports never carry personal data
        "language": question.language or answer.language,
        "expected_article": question.expected_article,
        "answer": answer.text,
        "citations": [c.__dict__ for c in answer.citations],
        "refused": answer.refused,
        "refusal": answer.refusal,
        "retrieved": answer.retrieved,
        "read": [c.id for c in answer.reading],  # the articles the model read (a handoff lists them)
        "scores": answer.scores,
        "timings": answer.timings,
        "guard_removed": answer.removed,
        "extractive": answer.extractive,
        "curated": answer.curated,  # the id of a support lead's curated answer given verbatim (0 = none)
        "unsupported_facts": unsupported,
    }


def summarize(
    results: list[dict[str, Any]], *, label: str = "ours", retrieval_only: bool = False
) -> dict[str, Any]:
    """Metrics overall and per language."""
    languages = sorted({r["language"] for r in results})
    return {
        "pipeline": label,
        "retrieval_only": retrieval_only,
        "questions": len(results),
        "overall": _metrics(results),
        "by_language": {lang: _metrics([r for r in results if r["language"] == lang]) for lang in languages},
    }


def _metrics(results: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in results if r["expected_article"]]
    must_refuse = [r for r in results if not r["expected_article"]]
    answered = [r for r in answerable if not r["refused"]]
    ranks = [_rank(r) for r in answerable]
    totals = [r["timings"].get("total_s", 0.0) for r in results]
    firsts = [r["timings"].get("ttft_s", 0.0) for r in results if not r["refused"]]
    return {
        "answerable": len(answerable),
        "must_refuse": len(must_refuse),
        "recall@1": _share(r is not None and r <= 1 for r in ranks),
        "recall@3": _share(r is not None and r <= 3 for r in ranks),
        "recall@5": _share(r is not None and r <= 5 for r in ranks),
        "mrr": round(statistics.fmean(1 / r if r else 0.0 for r in ranks), 3) if ranks else None,
        "citation_accuracy": _share(
            r["expected_article"] in [c["id"] for c in r["citations"]] for r in answered
        ),
        "refusal_rate_must_refuse": _share(r["refused"] for r in must_refuse),
        "false_refusal_rate": _share(r["refused"] for r in answerable),
        # why answerable questions were refused: retrieval (not covered), model (NOT_COVERED), guard
        "false_refusals_by_cause": dict(Counter(r.get("refusal") or "?" for r in answerable if r["refused"])),
        # handed off after the model read the expected article: the customer was shown its link
        "false_refusals_listing_the_article": sum(
            r["refused"] and r["expected_article"] in r.get("read", []) for r in answerable
        ),
        "guard_removed_sentences": sum(len(r["guard_removed"]) for r in results),
        "answers_with_guard_removals": sum(bool(r["guard_removed"]) for r in results),
        "extractive_answers": sum(bool(r["extractive"]) for r in results),
        "answers_with_unsupported_facts": sum(bool(r["unsupported_facts"]) for r in results),
        "latency_total_s": _percentiles(totals),
        "latency_ttft_s": _percentiles(firsts),
    }


def _rank(result: dict[str, Any]) -> int | None:
    retrieved = result["retrieved"]
    return (
        retrieved.index(result["expected_article"]) + 1 if result["expected_article"] in retrieved else None
    )


def _share(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return round(sum(values) / len(values), 3) if values else None


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 3), "p95": round(p95, 3)}
