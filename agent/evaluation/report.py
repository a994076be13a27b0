"""A self-contained HTML report of a simulation run (inline SVG chart; no external assets)."""

from __future__ import annotations

from html import escape
from typing import Any

_BARS = [
    ("recall@3", "Right article in top 3"),
    ("citation_accuracy", "Right article cited (answered)"),
    ("refusal_rate_must_refuse", "Refused when it must"),
    ("false_refusal_rate", "Refused though covered"),
]
_COLOURS = {"de": "#2b6cb0", "en": "#2f855a", "all": "#4a5568"}


def render_report(summary: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """The report a support lead reads: headline numbers, a chart, and every question that went wrong."""
    overall = summary["overall"]
    groups = {"all": overall, **summary["by_language"]}
    rows = "".join(_metric_row(name, groups) for name in _ordered_metrics(overall))
    problems = [r for r in results if _went_wrong(r)]
    problem_rows = "".join(_problem_row(r) for r in problems) or "<tr><td colspan=5>None.</td></tr>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Simulation report – {escape(summary["pipeline"])}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1a202c; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
td, th {{ border: 1px solid #cbd5e0; padding: .3rem .6rem; text-align: left; vertical-align: top; }}
th {{ background: #edf2f7; }}
.small {{ color: #4a5568; font-size: .9rem; }}
</style></head><body>
<h1>Simulation report</h1>
<p class="small">Pipeline: <b>{escape(summary["pipeline"])}</b> · {summary["questions"]} questions ·
{overall["answerable"]} answerable, {overall["must_refuse"]} that must be refused
{" · retrieval only (no answers generated)" if summary["retrieval_only"] else ""}</p>
{_invalid_articles(summary)}
<h2>At a glance</h2>
{_chart(groups)}
<h2>All figures</h2>
<table><tr><th>metric</th>{"".join(f"<th>{escape(g)}</th>" for g in groups)}</tr>{rows}</table>
<h2>Questions that went wrong ({len(problems)})</h2>
<p class="small">Wrong or missing article, a refusal that should have been an answer, an answer that should
have been a refusal, or a fact not found in the cited article.</p>
<table><tr><th>id</th><th>question</th><th>expected</th><th>got</th><th>answer</th></tr>{problem_rows}</table>
</body></html>
"""


def _invalid_articles(summary: dict[str, Any]) -> str:
    """A warning naming every skipped article file and why (file and field)."""
    invalid = summary.get("invalid_articles") or []
    if not invalid:
        return ""
    items = "".join(f"<li>{escape(problem)}</li>" for problem in invalid)
    return (
        f'<p class="warning"><b>{len(invalid)} article file(s) were skipped as invalid</b> and are not '
        f"in this simulation ({summary.get('articles', 0)} valid):</p><ul>{items}</ul>"
    )


def _ordered_metrics(metrics: dict[str, Any]) -> list[str]:
    return [k for k in metrics if not isinstance(metrics[k], dict)] + [
        f"{k}.{p}" for k in metrics if isinstance(metrics[k], dict) for p in metrics[k]
    ]


def _metric_row(name: str, groups: dict[str, dict[str, Any]]) -> str:
    cells = []
    for metrics in groups.values():
        key, _, sub = name.partition(".")
        value = metrics.get(key)
        value = value.get(sub) if sub and isinstance(value, dict) else value
        cells.append(f"<td>{'–' if value is None else escape(str(value))}</td>")
    return f"<tr><td>{escape(name)}</td>{''.join(cells)}</tr>"


def _chart(groups: dict[str, dict[str, Any]]) -> str:
    """Grouped horizontal bars, one group per metric, one bar per language."""
    bar_h, gap, label_w, width = 14, 10, 230, 360
    height = len(_BARS) * (len(groups) * bar_h + gap) + 30
    parts = [f'<svg role="img" aria-label="Key rates" width="{label_w + width + 60}" height="{height}">']
    y = 10
    for key, label in _BARS:
        parts.append(f'<text x="0" y="{y + bar_h}" font-size="13">{escape(label)}</text>')
        for name, metrics in groups.items():
            value = metrics.get(key) or 0.0
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{value * width:.1f}" height="{bar_h - 2}" '
                f'fill="{_COLOURS.get(name, "#718096")}"><title>{name}: {value}</title></rect>'
                f'<text x="{label_w + value * width + 4:.1f}" y="{y + bar_h - 3}" font-size="11">'
                f"{escape(name)} {value:.0%}</text>"
            )
            y += bar_h
        y += gap
    parts.append("</svg>")
    return "".join(parts)


def _went_wrong(result: dict[str, Any]) -> bool:
    expected = result["expected_article"]
    cited = [c["id"] for c in result["citations"]]
    if expected is None:
        return not result["refused"]
    return (
        result["refused"]
        or expected not in (cited or result["retrieved"][:3])
        or bool(result["unsupported_facts"])
    )


def _problem_row(result: dict[str, Any]) -> str:
    got = "refused" if result["refused"] else ", ".join(c["id"] for c in result["citations"]) or "–"
    return (
        f"<tr><td>{escape(result['id'])}</td><td>{escape(result['question'])}</td>"
        f"<td>{escape(result['expected_article'] or 'refuse')}</td><td>{escape(got)}</td>"
        f"<td>{escape(result['answer'][:300])}</td></tr>"
    )
