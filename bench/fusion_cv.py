"""Fusion weights per language, chosen by cross-validation over the help centers of bench-retrieval.

Each ranked article of a question carries its dense, BM25 and generated-questions ranks, so the fused
order under other weights is recomputed without searching again (over the articles the search kept).
For each language, a grid of BM25 weight × rrf_k is scored by MRR averaged over the sets (every set
counts alike: XQuAD's 1,190 questions would otherwise drown the demo's 63). In k-fold cross-validation
the weights chosen on the other folds are scored on the held-out one, next to the shared default: a
per-language setting is worth having only if it wins there. The generated questions' weight stays at
its setting: XQuAD has them only where bench-doc2query wrote them, so the grid could not weigh them on
both help centers.
"""

from __future__ import annotations

import itertools
import random
import statistics
from collections import Counter
from typing import Any

from agent.answering.language import detect_language
from agent.knowledge.retrieval import Source, fusion_score, own_language_first

LEXICAL_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
RRF_KS = (1, 2, 5, 10, 20, 60)

Weights = tuple[float, int]  # (BM25 weight, rrf_k)


def reciprocal_rank(run: dict[str, Any], weights: Weights, generated_weight: float, margin: float) -> float:
    """1 / the expected article's place when the run's ranked articles are fused with these weights."""
    lexical_weight, rrf_k = weights
    kinds = {"dense": 1.0, "lexical": lexical_weight, "generated": generated_weight}
    sources = [Source(**row) for row in run["ranked"]]
    for source in sources:
        source.fused = fusion_score(source, kinds, rrf_k)
    ranked = sorted(sources, key=lambda s: (s.fused, s.score), reverse=True)
    # as the agent ranks: the customer's language version of a near-tied best article first
    ranked = own_language_first(ranked, ranked, detect_language(run["question"]), margin)
    ids = [s.article_id for s in ranked]
    return 1 / (ids.index(run["expected_article"]) + 1) if run["expected_article"] in ids else 0.0


def cross_validate(
    runs: dict[str, list[dict[str, Any]]],
    default: Weights,
    generated_weight: float,
    margin: float,
    *,
    folds: int = 5,
    repeats: int = 4,
) -> dict[str, Any]:
    """Per language: MRR of the default and of the best weights on all questions, and the held-out MRR
    of the weights chosen on the other folds vs the default's on the same folds."""
    grid: list[Weights] = list(itertools.product(LEXICAL_WEIGHTS, RRF_KS))
    if default not in grid:
        grid.append(default)
    languages = sorted({r["language"] for rows in runs.values() for r in rows if r.get("expected_article")})
    report: dict[str, Any] = {}
    for language in languages:
        sets = {
            name: mine
            for name, rows in runs.items()
            if (mine := [r for r in rows if r.get("expected_article") and r["language"] == language])
        }
        scores = _Scores(
            {
                (name, weights): [reciprocal_rank(r, weights, generated_weight, margin) for r in rows]
                for name, rows in sets.items()
                for weights in grid
            },
            list(sets),
        )
        best = max(grid, key=scores.mrr)
        chosen: list[Weights] = []
        held_out: list[float] = []
        held_out_default: list[float] = []
        for repeat in range(repeats):
            shuffle = random.Random(repeat)
            fold_of = {
                name: [i % folds for i in shuffle.sample(range(len(rows)), len(rows))]
                for name, rows in sets.items()
            }
            for fold in range(folds):
                train = {name: {i for i, f in enumerate(fold_of[name]) if f != fold} for name in sets}
                test = {name: {i for i, f in enumerate(fold_of[name]) if f == fold} for name in sets}
                pick = max(grid, key=lambda weights, train=train: scores.mrr(weights, train))
                chosen.append(pick)
                held_out.append(scores.mrr(pick, test))
                held_out_default.append(scores.mrr(default, test))
        report[language] = {
            "questions": {name: len(rows) for name, rows in sets.items()},
            "default": {
                "weights": default,
                "mrr": round(scores.mrr(default), 4),
                "per_set": scores.per_set(default),
            },
            "best_on_all": {
                "weights": best,
                "mrr": round(scores.mrr(best), 4),
                "per_set": scores.per_set(best),
            },
            "held_out_mrr": {
                "chosen": round(statistics.fmean(held_out), 4),
                "default": round(statistics.fmean(held_out_default), 4),
            },
            "chosen": [[list(w), n] for w, n in Counter(chosen).most_common(3)],
        }
    return report


class _Scores:
    """Reciprocal ranks per (set, weights), and MRR averaged over the sets."""

    def __init__(self, ranks: dict[tuple[str, Weights], list[float]], sets: list[str]) -> None:
        self._ranks = ranks
        self._sets = sets

    def mrr(self, weights: Weights, keep: dict[str, set[int]] | None = None) -> float:
        """Each set's MRR (over the questions in `keep`, default all), averaged: every set counts alike."""
        return statistics.fmean(
            statistics.fmean(
                x for i, x in enumerate(self._ranks[name, weights]) if keep is None or i in keep[name]
            )
            for name in self._sets
        )

    def per_set(self, weights: Weights) -> dict[str, float]:
        return {name: round(statistics.fmean(self._ranks[name, weights]), 3) for name in self._sets}


def print_report(report: dict[str, Any]) -> None:
    """One line per language: the default, the best on all questions, and held-out MRR."""
    print(
        "\nfusion weights per language (BM25 weight, rrf_k): MRR averaged over the sets, and cross-validated"
    )
    for language, row in report.items():
        default, best, held = row["default"], row["best_on_all"], row["held_out_mrr"]
        print(
            f"{language:4} default {tuple(default['weights'])} {default['mrr']} {default['per_set']} | "
            f"best on all {tuple(best['weights'])} {best['mrr']} {best['per_set']} | "
            f"held out: chosen {held['chosen']} vs default {held['default']} (chosen: {row['chosen']})"
        )
