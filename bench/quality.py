"""`make bench-quality`: our pipeline vs the naive quickstart RAG on the dev set, same chat model, one run.

Prints both tables and the ratios, and writes bench/out/quality/{ours,naive}/ and bench/out/quality.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from naive import NaivePipeline

from agent.evaluation.simulate import load_questions, run_simulation
from agent.knowledge.articles import load_knowledge
from agent.runtime.process import harden_process
from agent.settings import load_settings
from agent.wiring import build_embedder, build_generator, build_simulation

ROWS = [
    ("recall@1", "higher"),
    ("recall@3", "higher"),
    ("recall@5", "higher"),
    ("mrr", "higher"),
    ("citation_accuracy", "higher"),
    ("refusal_rate_must_refuse", "higher"),
    ("false_refusal_rate", "lower"),
    ("answers_with_unsupported_facts", "lower"),
    ("guard_removed_sentences", "-"),
    ("latency_total_s.p50", "lower"),
    ("latency_total_s.p95", "lower"),
    ("latency_ttft_s.p50", "lower"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, default=Path("eval/dev.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("bench/out/quality"))
    parser.add_argument("--every", type=int, default=1, help="only every N-th question (a quicker look)")
    args = parser.parse_args()

    settings = load_settings()
    harden_process(settings, temp_dir=args.out / "tmp")  # first: before any model or index library loads
    questions = load_questions(args.questions)[:: args.every]
    kb = load_knowledge(settings.knowledge_dir)
    ours, _ = build_simulation(settings, args.out / "ours")
    naive_settings = settings.model_copy(update={"embedding_model": "all-minilm-l6-v2"})
    # The baseline offers the same ask() as SupportAgent, which is all run_simulation uses of it.
    naive = NaivePipeline(
        kb, build_embedder(naive_settings), args.out / "naive" / "data" / "index", build_generator(settings)
    )
    summaries = {
        "ours": run_simulation(ours, questions, args.out / "ours", kb=kb, label="ours"),
        "naive": run_simulation(naive, questions, args.out / "naive", kb=kb, label="naive"),
    }
    table = {}
    for group in ["overall", "de", "en"]:
        count = len([q for q in questions if group == "overall" or q.language == group])
        print(f"\n== {group} ({count} questions, chat model {settings.chat_model})")
        print(f"{'metric':34} {'ours':>9} {'naive':>9} {'ours/naive':>11}  better")
        for name, better in ROWS:
            values = [_get(summaries[p], group, name) for p in ("ours", "naive")]
            ratio = values[0] / values[1] if None not in values and values[1] else None
            table[f"{group}.{name}"] = {"ours": values[0], "naive": values[1], "ratio": ratio}
            print(f"{name:34} {_fmt(values[0]):>9} {_fmt(values[1]):>9} {_fmt(ratio):>11}  {better}")
    (args.out.parent / "quality.json").write_text(
        json.dumps({"summaries": summaries, "table": table}, indent=2)
    )
    print(f"\nwritten: {args.out.parent / 'quality.json'}, reports in {args.out}/*/report.html")


def _get(summary: dict, group: str, name: str) -> float | None:
    metrics = summary["overall"] if group == "overall" else summary["by_language"].get(group, {})
    key, _, sub = name.partition(".")
    value = metrics.get(key)
    return value.get(sub) if sub and isinstance(value, dict) else value


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
