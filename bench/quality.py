"""`make bench-quality`: our pipeline vs the naive quickstart RAG, same chat model, one run, on two help
centers: the demo with eval/dev.jsonl, and XQuAD (../shared/eval/xquad, every 20th question by default).

Prints the tables and the ratios (and why answerable questions were refused), and writes
bench/out/quality/{dev,xquad}/{ours,naive}/ and bench/out/quality.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from naive import NaivePipeline

from agent.evaluation.simulate import load_questions, run_simulation
from agent.knowledge.articles import KnowledgeBase, load_knowledge
from agent.knowledge.questions import CACHE_FILE
from agent.runtime.process import harden_process
from agent.settings import Settings, load_settings
from agent.wiring import build_embedder, build_generator, build_simulation

ROWS = [
    ("recall@1", "higher"),
    ("recall@3", "higher"),
    ("recall@5", "higher"),
    ("mrr", "higher"),
    ("citation_accuracy", "higher"),
    ("refusal_rate_must_refuse", "higher"),
    ("false_refusal_rate", "lower"),
    ("false_refusals_listing_the_article", "-"),
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
    parser.add_argument(
        "--xquad", type=Path, default=Path("../shared/eval/xquad"), help="XQuAD as a help center"
    )
    parser.add_argument("--xquad-every", type=int, default=20, help="every N-th XQuAD question (0: none)")
    parser.add_argument("--only", choices=PIPELINES, help="run one pipeline only")
    args = parser.parse_args()

    settings = load_settings()
    harden_process(settings, temp_dir=args.out / "tmp")  # first: before any model or index library loads
    sets = {"dev": (settings.knowledge_dir, load_questions(args.questions)[:: args.every])}
    if args.xquad_every and (args.xquad / "questions.jsonl").exists():
        xquad = load_questions(args.xquad / "questions.jsonl")[:: args.xquad_every]
        sets["xquad"] = (args.xquad / "knowledge", xquad)
    generator = build_generator(settings)  # one model for both pipelines
    report: dict[str, Any] = {}
    for set_name, (knowledge, questions) in sets.items():
        kb = load_knowledge(knowledge)
        out = args.out / set_name
        summaries = {}
        for pipeline in [args.only] if args.only else PIPELINES:
            answerer = _pipeline(pipeline, settings, knowledge, kb, out / pipeline, generator)
            summaries[pipeline] = run_simulation(answerer, questions, out / pipeline, kb=kb, label=pipeline)
        report[set_name] = {"summaries": summaries, "table": print_table(set_name, summaries, questions)}
        print(f"chat model {settings.chat_model}")
    (args.out.parent / "quality.json").write_text(json.dumps(report, indent=2))
    print(f"\nwritten: {args.out.parent / 'quality.json'}, reports in {args.out}/*/*/report.html")


PIPELINES = ["ours", "naive"]


def _pipeline(
    name: str, settings: Settings, knowledge: Path, kb: KnowledgeBase, out: Path, generator: Any
) -> Any:
    """Our agent, or the naive quickstart RAG (same ask() as SupportAgent), over the knowledge folder."""
    if name == "ours":
        _seed_questions(knowledge, out / "data")
        return build_simulation(settings, out, knowledge=knowledge, generator=generator)[0]
    minilm = build_embedder(settings.model_copy(update={"embedding_model": "all-minilm-l6-v2"}))
    return NaivePipeline(kb, minilm, out / "data" / "index", generator)


def _seed_questions(knowledge: Path, data_dir: Path) -> None:
    """Start from the questions bench-doc2query generated for a folder that has none of its own (XQuAD:
    96 minutes of generating on two cores); articles they do not cover are generated as in a simulation."""
    seed = Path("bench/out/retrieval") / knowledge.parent.name / "data" / CACHE_FILE
    if not (knowledge / CACHE_FILE).exists() and seed.exists() and not (data_dir / CACHE_FILE).exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seed, data_dir / CACHE_FILE)


def print_table(set_name: str, summaries: dict[str, Any], questions: list[Any]) -> dict[str, Any]:
    """Each metric for each pipeline, overall and per language, with the ratio ours/naive."""
    table = {}
    names = list(summaries)
    for group in ["overall", "de", "en"]:
        count = len([q for q in questions if group == "overall" or q.language == group])
        print(f"\n== {set_name}, {group} ({count} questions)")
        print(f"{'metric':34}" + "".join(f"{n:>9}" for n in names) + f"{'ours/naive':>11}  better")
        for name, better in ROWS:
            values = [_get(summaries[p], group, name) for p in names]
            both = len(values) == 2 and None not in values and values[1]
            ratio = values[0] / values[1] if both else None
            table[f"{group}.{name}"] = {**dict(zip(names, values, strict=True)), "ratio": ratio}
            print(f"{name:34}" + "".join(f"{_fmt(v):>9}" for v in values) + f"{_fmt(ratio):>11}  {better}")
        causes = {n: _get(summaries[n], group, "false_refusals_by_cause") for n in names}
        print(f"{'false refusals by cause':34} " + "; ".join(f"{n}: {c}" for n, c in causes.items()))
    return table


def _get(summary: dict, group: str, name: str) -> float | None:
    metrics = summary["overall"] if group == "overall" else summary["by_language"].get(group, {})
    key, _, sub = name.partition(".")
    value = metrics.get(key)
    return value.get(sub) if sub and isinstance(value, dict) else value


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
