"""`make bench-retrieval`: retrieval and the covered / not-covered decision on more than one help center.

Runs the real retriever (the configured embedding model, Chroma, BM25) over the demo help center with
eval/dev.jsonl and over XQuAD (../shared/eval/xquad: 480 Wikipedia paragraphs as articles, German and
English, every question answerable). For each set and language it reports recall@1/@3, MRR, the share
of answerable questions the coverage rule refuses, must-refuse questions refused (dev only) and the
query time (ms*: the first variant's includes embedding the question; the others reuse that vector).
Each variant of the retriever and each coverage rule is a row, so changes are compared in one run.
Last, fusion weights per language chosen by cross-validation against the shared default
(bench/fusion_cv.py).

Writes bench/out/retrieval.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fusion_cv import cross_validate, print_report  # noqa: E402

from agent.answering.language import detect_language  # noqa: E402
from agent.errors import ModelError  # noqa: E402
from agent.knowledge.articles import load_knowledge  # noqa: E402
from agent.knowledge.embeddings import Embedder  # noqa: E402
from agent.knowledge.index import sync_index  # noqa: E402
from agent.knowledge.questions import CACHE_FILE, QuestionSource  # noqa: E402
from agent.knowledge.retrieval import Source, covering, own_language_first  # noqa: E402
from agent.runtime.process import harden_process  # noqa: E402
from agent.settings import Settings, load_settings  # noqa: E402
from agent.wiring import build_embedder, build_retriever, question_source  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEPTH = 10  # ranked articles kept per question


@dataclass(frozen=True)
class EvalSet:
    """A help center and its questions (expected_article null = must be refused)."""

    name: str
    knowledge: Path
    questions: Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "eval" / "xquad")
    parser.add_argument("--limit", type=int, default=0, help="at most this many questions per set")
    args = parser.parse_args()
    settings = load_settings()
    harden_process(settings)
    sets = [
        EvalSet("dev", settings.knowledge_dir, ROOT / "eval" / "dev.jsonl"),
        # German questions in other words than the articles (other compounds, word order): written here
        EvalSet("para-de", settings.knowledge_dir, ROOT / "eval" / "paraphrases-de.jsonl"),
    ]
    if (args.xquad / "questions.jsonl").exists():
        sets.append(EvalSet("xquad", args.xquad / "knowledge", args.xquad / "questions.jsonl"))
    else:
        print(f"XQuAD not found at {args.xquad}; only the dev set is measured")
    report: dict[str, Any] = {"variants": {}, "coverage": {}}
    default_runs: dict[str, list[dict[str, Any]]] = {}
    for eval_set in sets:
        work = args.out / "retrieval" / ("xquad" if eval_set.name == "xquad" else "demo")
        report["variants"][eval_set.name] = {}
        for variant, changes in VARIANTS.items():
            runs = rank_questions(settings.model_copy(update=changes), eval_set, work, args.limit)
            report["variants"][eval_set.name][variant] = score(runs, COVERAGE_RULES[DEFAULT_RULE])
            if variant == DEFAULT_VARIANT:
                default_runs[eval_set.name] = runs
                (work / f"runs-{eval_set.name}.json").write_text(json.dumps(runs), encoding="utf-8")  # misses
                report["coverage"][eval_set.name] = {
                    name: score(runs, rule) for name, rule in COVERAGE_RULES.items()
                }
    report["fusion_per_language"] = cross_validate(
        default_runs,
        (settings.lexical_weight, settings.rrf_k),
        settings.generated_questions_weight,
        settings.source_margin,
    )
    print_table(report["variants"], "variant")
    print_table(report["coverage"], "coverage rule")
    print_report(report["fusion_per_language"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "retrieval.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"written: {args.out / 'retrieval.json'}")


def rank_questions(settings: Settings, eval_set: EvalSet, work: Path, limit: int) -> list[dict[str, Any]]:
    """Index the set's help center (incrementally) and rank articles for each of its questions."""
    sim = settings.model_copy(update={"knowledge_dir": eval_set.knowledge, "data_dir": work / "data"})
    embedder = _embedder(sim)
    sync_index(
        load_knowledge(eval_set.knowledge),
        embedder,
        sim.index_dir,
        chunk_size=sim.chunk_size,
        questions=_cached_questions(sim, work),
    )
    retriever = build_retriever(sim, embedder)
    retriever.warm()
    questions = [
        json.loads(line) for line in eval_set.questions.read_text(encoding="utf-8").splitlines() if line
    ]
    runs = []
    for question in questions[: limit or None]:
        start = time.perf_counter()
        ranked = retriever.search(question["question"], top_k=DEPTH)
        # as the agent ranks: the customer's language version of a near-tied best article first
        language = detect_language(question["question"])
        ranked = own_language_first(ranked, ranked, language, settings.source_margin)
        runs.append({**question, "seconds": time.perf_counter() - start, "ranked": [_row(s) for s in ranked]})
    return runs


def _cached_questions(settings: Settings, work: Path) -> QuestionSource | None:
    """Generated questions from the folder's cache or the bench's own (work/data), never the chat model:
    a help center without them (XQuAD until `make bench-doc2query ARGS=--xquad ...` ran) is measured
    without, and says so."""
    source = question_source(settings, save_to=work / "data" / CACHE_FILE)
    if source is None:
        return None
    source.load_model = _no_model
    return source


def _no_model() -> Any:
    raise ModelError("bench-retrieval does not generate questions; run make bench-doc2query for them")


_EMBEDDERS: dict[str, Embedder] = {}


def _embedder(settings: Settings) -> Embedder:
    """One loaded embedding model per name, remembering query vectors: variants differ elsewhere."""
    if settings.embedding_model not in _EMBEDDERS:
        _EMBEDDERS[settings.embedding_model] = _QueryMemo(build_embedder(settings))
    return _EMBEDDERS[settings.embedding_model]


class _QueryMemo:
    """An embedder that embeds each query once per run (documents pass through)."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._queries: dict[str, list[float]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def embed_query(self, text: str) -> list[float]:
        if text not in self._queries:
            self._queries[text] = self._inner.embed_query(text)
        return self._queries[text]


def _row(source: Source) -> dict[str, Any]:
    return {**asdict(source), "passages": []}


Rule = Callable[[list[dict[str, Any]]], bool]  # ranked rows → covered?


def _rule(min_relevance: float, min_agreed: float, *, questions_vote: bool = True) -> Rule:
    """The product's coverage decision with these thresholds, on the first top_k sources it would see.
    Without `questions_vote`, only dense search and BM25 can agree (the rule before stop 23)."""
    top_k = load_settings().top_k

    def covered(rows: list[dict[str, Any]]) -> bool:
        sources = [Source(**row) for row in rows[:top_k]]
        if not questions_vote:
            sources = [replace(source, generated_rank=None) for source in sources]
        return bool(covering(sources, min_relevance=min_relevance, min_agreed=min_agreed))

    return covered


COVERAGE_RULES: dict[str, Rule] = {
    "cosine >= 0.84": _rule(0.84, 1.01),
    "+ dense and BM25 agreed >= 0.80 (before)": _rule(0.84, 0.80, questions_vote=False),
    "+ two of three agreed >= 0.80 (default)": _rule(0.84, 0.80),
    "+ two of three agreed >= 0.78": _rule(0.84, 0.78),
    "cosine >= 0.80": _rule(0.80, 1.01),
}
DEFAULT_RULE = "+ two of three agreed >= 0.80 (default)"
# Retriever variants: settings changed against the defaults.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "best article in any language (before)": {"source_margin": 0.0},
    "no generated questions (before)": {"generated_questions_weight": 0.0},
    "generated questions, weight 0.5": {"generated_questions_weight": 0.5},
    "no compound splitting": {"split_compounds": False},
    "dense only": {"lexical_weight": 0.0},
    "BM25 weight 1.0": {"lexical_weight": 1.0},
    "BM25 weight 0.25": {"lexical_weight": 0.25},
    "rrf_k 20": {"rrf_k": 20},
}
DEFAULT_VARIANT = "default"


def score(runs: list[dict[str, Any]], covered: Rule) -> dict[str, dict[str, float]]:
    """Per language: recall@1/@3, MRR, refused answerable, must-refuse refused, median query time."""
    figures: dict[str, dict[str, float]] = {}
    for language in sorted({r["language"] for r in runs}):
        mine = [r for r in runs if r["language"] == language]
        answerable = [r for r in mine if r.get("expected_article")]
        refuse = [r for r in mine if not r.get("expected_article")]
        ranks = [_rank(r) for r in answerable]
        row = {
            "questions": len(answerable),
            "recall@1": _share(rank == 1 for rank in ranks),
            "recall@3": _share(rank is not None and rank <= 3 for rank in ranks),
            "mrr": round(statistics.fmean(1 / rank if rank else 0.0 for rank in ranks), 3) if ranks else 0.0,
            "refused_answerable": _share(not covered(r["ranked"]) for r in answerable),
            "query_ms": round(1000 * statistics.median(r["seconds"] for r in mine), 1),
        }
        if refuse:
            row["must_refuse_refused"] = _share(not covered(r["ranked"]) for r in refuse)
        figures[language] = row
    return figures


def _rank(run: dict[str, Any]) -> int | None:
    ids = [row["article_id"] for row in run["ranked"]]
    return ids.index(run["expected_article"]) + 1 if run["expected_article"] in ids else None


def _share(flags: Any) -> float:
    values = list(flags)
    return round(sum(values) / len(values), 3) if values else 0.0


def print_table(report: dict[str, Any], kind: str) -> None:
    """One line per set, variant (or rule) and language."""
    print(
        f"\n{'set':7} {kind:28} {'lang':4} {'n':>5} {'R@1':>6} {'R@3':>6} {'MRR':>6} {'refused':>8} "
        f"{'must-ref':>8} {'ms*':>6}"
    )
    for set_name, rules in report.items():
        for rule, languages in rules.items():
            for language, row in languages.items():
                print(
                    f"{set_name:7} {rule:28} {language:4} {row['questions']:>5} {row['recall@1']:>6} "
                    f"{row['recall@3']:>6} {row['mrr']:>6} {row['refused_answerable']:>8} "
                    f"{row.get('must_refuse_refused', ''):>8} {row['query_ms']:>6}"
                )


if __name__ == "__main__":
    main()
