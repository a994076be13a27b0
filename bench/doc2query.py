"""`make bench-doc2query`: would questions generated per article at index time ("doc2query") help retrieval?

For every customer-visible article of the demo help center (and of XQuAD with --xquad) the configured
chat model writes six questions a customer might ask with the product's prompt (cached by the article's
content hash in bench/out/retrieval/<demo|xquad>/data/.generated-questions.json, the file
bench-retrieval reads, so a rerun only generates for changed articles). The generated questions are
embedded; a customer question's best cosine to an article's generated questions ranks the articles a
third way, fused into the product's ranking (dense + BM25, reciprocal rank with the product's rrf_k)
with a weight. Reported per set (dev, German paraphrases, XQuAD) and language: recall@1/@3 and MRR of
the product's ranking and of each weight, plus the generation time per article. The fusion is
recomputed over the ten articles the product ranks (bench/retrieval.py), so the "product" row can
differ from bench-retrieval by a question or two.

Writes bench/out/doc2query.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.knowledge.articles import Article, load_knowledge  # noqa: E402
from agent.knowledge.questions import CACHE_FILE, QuestionCache  # noqa: E402
from agent.knowledge.questions import generate_questions as questions_for  # noqa: E402
from agent.runtime.process import harden_process  # noqa: E402
from agent.settings import load_settings  # noqa: E402
from agent.wiring import build_embedder, build_generator  # noqa: E402
from bench.retrieval import EvalSet, rank_questions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = (0.25, 0.5, 1.0)  # weight of the generated-questions list in the fusion
QUESTIONS = 6  # per article; the product's prompt (agent/knowledge/questions.py) with this count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--xquad", type=Path, default=None, help="also XQuAD (../shared/eval/xquad): 1.5-2 h")
    parser.add_argument("--limit", type=int, default=0, help="at most this many questions per set")
    args = parser.parse_args()
    settings = load_settings()
    harden_process(settings)
    help_centers = [
        (
            "demo",
            settings.knowledge_dir,
            [("dev", ROOT / "eval" / "dev.jsonl"), ("para-de", ROOT / "eval" / "paraphrases-de.jsonl")],
        ),
    ]
    if args.xquad and (args.xquad / "questions.jsonl").exists():
        help_centers.append(("xquad", args.xquad / "knowledge", [("xquad", args.xquad / "questions.jsonl")]))
    embedder = build_embedder(settings)
    report: dict[str, Any] = {"help_centers": {}, "sets": {}}
    for center, knowledge, question_files in help_centers:
        articles = [a for a in load_knowledge(knowledge).articles if a.customer_visible]
        generated, seconds = generate_questions(
            settings, articles, args.out / "retrieval" / center / "data" / CACHE_FILE
        )
        report["help_centers"][center] = {
            "articles": len(articles),
            "generated_now": len(seconds),
            "generation_s_per_article": round(statistics.fmean(seconds), 1) if seconds else None,
        }
        owners = [article_id for article_id, questions in generated.items() for _ in questions]
        vectors = np.array(
            [embedder.embed_query(q) for questions in generated.values() for q in questions], dtype=np.float32
        )
        for name, questions in question_files:
            eval_set = EvalSet(name, knowledge, questions)
            runs = rank_questions(settings, eval_set, args.out / "retrieval" / center, args.limit)
            rows: dict[str, Any] = {}
            for weight in (0.0, *WEIGHTS):
                ranks = [
                    (run["language"], _rank(run, vectors, owners, embedder, weight, settings))
                    for run in runs
                    if run.get("expected_article")
                ]
                rows["product" if weight == 0 else f"+ generated questions, weight {weight}"] = _score(ranks)
            report["sets"][name] = rows
    _print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "doc2query.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    print(f"written: {args.out / 'doc2query.json'}")


def generate_questions(
    settings: Any, articles: list[Article], cache_file: Path
) -> tuple[dict[str, list[str]], list[float]]:
    """Six generated customer questions per article, from the cache when the article is unchanged.

    The cache is the product's (the file bench-retrieval and a simulation of the folder read). It is
    written after every article, so an interrupted run keeps what it generated (XQuAD's 480
    paragraphs take 1.5–2 h on two cores)."""
    cache = QuestionCache.load(cache_file)
    generator = None
    result: dict[str, list[str]] = {}
    seconds: list[float] = []
    for article in articles:
        questions = cache.get(article, settings.chat_model, QUESTIONS)
        if questions is None:
            if generator is None:
                generator = build_generator(settings.model_copy(update={"max_answer_tokens": 150}))
            start = time.perf_counter()
            questions = questions_for(generator, article, QUESTIONS)
            seconds.append(time.perf_counter() - start)
            cache.put(article, settings.chat_model, QUESTIONS, questions)
            cache.save()
            print(f"{article.id}: {questions}", flush=True)
        result[article.id] = questions
    return result, seconds


def _rank(
    run: dict[str, Any], vectors: np.ndarray, owners: list[str], embedder: Any, weight: float, settings: Any
) -> int | None:
    """Rank of the expected article after fusing the generated-questions list with this weight."""
    k = settings.rrf_k
    fused: dict[str, float] = {}
    for row in run["ranked"]:
        score = 0.0
        if row["dense_rank"] is not None:
            score += 1 / (k + row["dense_rank"] + 1)
        if row["lexical_rank"] is not None:
            score += settings.lexical_weight / (k + row["lexical_rank"] + 1)
        fused[row["article_id"]] = score
    if weight:
        similarity = vectors @ np.array(embedder.embed_query(run["question"]), dtype=np.float32)
        best: dict[str, float] = {}
        for value, owner in zip(similarity.tolist(), owners, strict=True):
            best[owner] = max(best.get(owner, -1.0), value)
        for position, article_id in enumerate(sorted(best, key=best.__getitem__, reverse=True)):
            fused[article_id] = fused.get(article_id, 0.0) + weight / (k + position + 1)
    order = sorted(fused, key=fused.__getitem__, reverse=True)
    expected = run["expected_article"]
    return order.index(expected) + 1 if expected in order else None


def _score(ranks: list[tuple[str, int | None]]) -> dict[str, dict[str, float]]:
    figures = {}
    for language in sorted({language for language, _ in ranks}):
        mine = [rank for lang, rank in ranks if lang == language]
        figures[language] = {
            "questions": len(mine),
            "recall@1": round(sum(r == 1 for r in mine) / len(mine), 3),
            "recall@3": round(sum(r is not None and r <= 3 for r in mine) / len(mine), 3),
            "mrr": round(statistics.fmean(1 / r if r else 0.0 for r in mine), 3),
        }
    return figures


def _print(report: dict[str, Any]) -> None:
    for center, figures in report["help_centers"].items():
        print(
            f"\n{center}: {figures['articles']} articles, {figures['generated_now']} generated now, "
            f"{figures['generation_s_per_article']} s per article"
        )
    print(f"{'set':7} {'ranking':40} {'lang':4} {'n':>4} {'R@1':>6} {'R@3':>6} {'MRR':>6}")
    for set_name, rows in report["sets"].items():
        for ranking, languages in rows.items():
            for language, row in languages.items():
                print(
                    f"{set_name:7} {ranking:40} {language:4} {row['questions']:>4} {row['recall@1']:>6} "
                    f"{row['recall@3']:>6} {row['mrr']:>6}"
                )


if __name__ == "__main__":
    main()
