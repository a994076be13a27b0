"""`make bench-latency`: how long customers wait, through the served page, ours vs the naive pipeline.

Serves the real app on loopback (the default model), and lets scripted customers chat through
gradio_client at 1, 4, 8 and 20 at once: German and English, casual wording, a follow-up and an
off-topic question. For each turn it measures the time until the sources are shown, until the first
answer sentence, and until the answer is complete; it counts errors, busy answers and customers who
saw their place in the queue. The naive pipeline (bench/naive.py: top-4 chunks, the quickstart prompt,
no prefix cache, no queue) is served by the same page and model in the same run. Raw llama.cpp prompt
and decode speed is measured first, so the figures can be read against the hardware.

Writes bench/out/latency.json and prints the tables; docs/performance.md holds a run's figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support: the loopback server

from naive import NaivePipeline  # noqa: E402

from agent.knowledge.articles import load_knowledge  # noqa: E402
from agent.runtime.process import harden_process  # noqa: E402
from agent.settings import Settings, load_settings  # noqa: E402
from agent.wiring import Services, build_embedder, build_services  # noqa: E402
from tests.support import BackgroundServer, message_text  # noqa: E402
from ui.app import create_app  # noqa: E402

# Scripted customers: each a conversation of one or two turns (a follow-up needs the first).
CUSTOMERS: list[list[str]] = [
    ["Wie lange habe ich Zeit für eine Rücksendung?"],
    ["how much is shipping to austria"],
    ["Kann ich auf Rechnung bezahlen?"],
    ["I forgot my password, what do I do?", "and how long is the link valid?"],
    ["will dass ihr alles was ihr über mich habt komplett entfernt, wie mach ich das"],
    ["Wie wird das Wetter morgen in Hamburg?"],  # off-topic: a handoff without the model
    ["How long does delivery to Austria take?"],
    ["Mein Paket ist beschädigt angekommen, was nun?"],
    ["can i pay with paypal"],
    ["Wo finde ich meine Rechnung?", "und kann ich die auch per Post bekommen?"],
    ["do you ship to switzerland"],
    ["Wie ändere ich meine Lieferadresse?"],
]
LEVELS = (1, 4, 8, 20)
SEQUENTIAL_CUSTOMERS = 8  # at level 1, this many customers one after the other
TURN_TIMEOUT_S = 240.0  # a turn still unanswered then counts as an error (bounded run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="comma-separated")
    parser.add_argument("--only", choices=["ours", "naive"], help="run one pipeline only")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]

    # Scripted customers all come from loopback at once: this measures waiting, not abuse protection.
    settings = load_settings(rate_limits=False)
    harden_process(settings)
    args.out.mkdir(parents=True, exist_ok=True)
    embedder = build_embedder(settings)
    services = build_services(settings, embedder=embedder)
    report: dict[str, Any] = {"model": settings.chat_model, "threads": settings.threads, "levels": levels}
    report["llama_cpp"] = raw_speed(services)
    print(f"raw llama.cpp: {report['llama_cpp']}", flush=True)

    pipelines: dict[str, Callable[[], Services]] = {
        "ours": lambda: services,
        "naive": lambda: naive_services(settings, services, args.out),
    }
    for name in [args.only] if args.only else ["ours", "naive"]:
        served = pipelines[name]()
        recorder = record_timings(served)
        server = BackgroundServer(create_app(served))
        url = server.start()
        try:
            if name == "ours":  # steady state: the articles' states are in the prefix cache
                report["ours_cold"] = run_level(url, 1, recorder, len(CUSTOMERS))
                print(f"ours, first pass (cold prefix cache): {summary_line(report['ours_cold'])}")
            report[name] = {
                str(level): run_level(url, level, recorder, SEQUENTIAL_CUSTOMERS if level == 1 else level)
                for level in levels
            }
        finally:
            server.stop()
        for level, figures in report[name].items():
            print(f"{name:6} {level:>3} at once: {summary_line(figures)}", flush=True)
    print_tables(report)
    (args.out / "latency.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"written: {args.out / 'latency.json'}")
    # Under load some turns may fail (that is measured); a pipeline whose every turn failed is broken,
    # and its "figures" would be read as a result (the naive baseline once failed silently like this).
    broken = [
        f"{name} at {level}"
        for name in pipelines
        for level, figures in report.get(name, {}).items()
        if figures["turns"] and figures["errors"] == figures["turns"]
    ]
    if broken:
        raise SystemExit(f"every turn failed: {', '.join(broken)} – see the errors above")


def raw_speed(services: Services) -> dict[str, float]:
    """llama.cpp's own prompt-processing and decoding speed on this machine (tokens/s)."""
    llm = services.agent.generator.llama  # type: ignore[attr-defined]
    text = " ".join(["Rücksendungen sind innerhalb von 30 Tagen kostenlos möglich."] * 30)
    tokens = llm.tokenize(text.encode(), add_bos=True)[:256]
    llm.reset()
    start = time.perf_counter()
    llm.eval(tokens)
    prompt_s = time.perf_counter() - start
    start = time.perf_counter()
    produced = 0
    for _ in llm.generate(tokens[:8], temp=0.0, reset=True):
        produced += 1
        if produced == 64:
            break
    decode_s = time.perf_counter() - start
    llm.reset()
    services.agent.forget()
    return {
        "prompt_tokens_per_s": round(len(tokens) / prompt_s, 1),
        "decode_tokens_per_s": round(produced / decode_s, 1),
    }


def naive_services(settings: Settings, ours: Services, out: Path) -> Services:
    """The same page and model, answering with the naive pipeline (its own throwaway index)."""
    naive_settings = settings.model_copy(update={"data_dir": out / "latency-naive" / "data"})
    services = build_services(naive_settings, embedder=ours.embedder)
    minilm = build_embedder(settings.model_copy(update={"embedding_model": "all-minilm-l6-v2"}))
    pipeline = NaivePipeline(
        load_knowledge(settings.knowledge_dir),
        minilm,
        naive_settings.data_dir / "index",
        ours.agent.generator,
    )
    pipeline.forget = ours.agent.forget  # type: ignore[attr-defined]
    services.__dict__["agent"] = pipeline  # the page calls agent.stream(question, history)
    return services


class Recorder:
    """The server-side timings of every finished answer (prompt tokens come only from there)."""

    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []


def record_timings(services: Services) -> Recorder:
    recorder = Recorder()
    agent = services.agent
    original = agent.stream

    def stream(question: str, history: Any = ()) -> Iterator[Any]:
        for answer in original(question, history):
            if answer.done:
                recorder.answers.append({"refused": answer.refused, **answer.timings})
            yield answer

    agent.stream = stream  # type: ignore[method-assign]
    return recorder


def run_level(url: str, level: int, recorder: Recorder, customers: int) -> dict[str, Any]:
    """`customers` scripted customers, `level` of them at a time; the figures of all their turns."""
    first_answer = len(recorder.answers)
    scripts = [CUSTOMERS[i % len(CUSTOMERS)] for i in range(customers)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=level) as pool:
        turns = [
            turn for conversation in pool.map(lambda s: customer(url, s), scripts) for turn in conversation
        ]
    wall = time.perf_counter() - started
    server_side = recorder.answers[first_answer:]
    prompt_tokens = [a["prompt_tokens"] for a in server_side if a.get("prompt_tokens")]
    reused = [a["reused_tokens"] for a in server_side if a.get("prompt_tokens")]
    answered = [t for t in turns if t["ok"] and not t["busy"]]
    return {
        "customers": customers,
        "turns": len(turns),
        "wall_s": round(wall, 1),
        "sources_s": percentiles([t["sources_s"] for t in answered if t["sources_s"] is not None]),
        "first_sentence_s": percentiles([t["first_s"] for t in answered if t["first_s"] is not None]),
        "complete_s": percentiles([t["complete_s"] for t in answered]),
        "slowest_complete_s": round(max((t["complete_s"] for t in answered), default=0.0), 2),
        "errors": sum(not t["ok"] for t in turns),
        "busy": sum(t["busy"] for t in turns),
        "saw_queue_place": sum(t["queued"] for t in turns),
        "handoffs": sum(t["handoff"] for t in turns),
        "prompt_tokens_mean": round(statistics.mean(prompt_tokens), 1) if prompt_tokens else None,
        "prompt_tokens_read_mean": round(
            statistics.mean(p - r for p, r in zip(prompt_tokens, reused, strict=True)), 1
        )
        if prompt_tokens
        else None,
    }


def customer(url: str, script: list[str]) -> list[dict[str, Any]]:
    """One customer: consent without storing, then each question; what they saw and when."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    client.predict(api_name="/consent_none")
    turns = []
    for question in script:
        turns.append(turn(client, question))
    return turns


def turn(client: Any, question: str) -> dict[str, Any]:
    started = time.perf_counter()
    seen: dict[str, Any] = {"sources_s": None, "first_s": None, "queued": False}
    final = ""
    try:
        job = client.submit(question, api_name="/chat")
        for _box, chat in job:
            now = time.perf_counter() - started
            text = message_text(chat[-1]) if chat else ""
            if "🔎" in text or "⏳" in text:
                seen["sources_s"] = seen["sources_s"] if seen["sources_s"] is not None else now
                seen["queued"] = seen["queued"] or "⏳" in text
            elif text and seen["first_s"] is None:
                seen["first_s"] = now
                seen["sources_s"] = seen["sources_s"] if seen["sources_s"] is not None else now
            final = text
            if now > TURN_TIMEOUT_S:
                raise TimeoutError
        job.result(timeout=TURN_TIMEOUT_S)
        ok = _own_answer(job, question)
    except Exception:  # noqa: BLE001 - any failure counts as an error of this turn
        ok = False
    busy = "sehr viele Kunden" in final or "a lot of customers" in final
    handoff = "support@" in final and not busy
    return {
        **seen,
        "complete_s": round(time.perf_counter() - started, 3),
        "ok": ok,
        "busy": busy,
        "handoff": handoff,
    }


def _own_answer(job: Any, question: str) -> bool:
    """The customer's chat shows their own question (nobody else's)."""
    _box, chat = job.outputs()[-1]
    users = [message_text(m).strip() for m in chat if m["role"] == "user"]
    return bool(users) and users[-1] in (question.strip(), "", "…")


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2), "n": len(ordered)}


def summary_line(figures: dict[str, Any]) -> str:
    first, complete = figures["first_sentence_s"], figures["complete_s"]
    return (
        f"sources p50 {figures['sources_s']['p50']} s, first sentence p50 {first['p50']} / p95 "
        f"{first['p95']} s, complete p50 {complete['p50']} / p95 {complete['p95']} s, slowest "
        f"{figures['slowest_complete_s']} s, errors {figures['errors']}, busy {figures['busy']}, queue "
        f"shown {figures['saw_queue_place']}, prompt tokens {figures['prompt_tokens_mean']} (read "
        f"{figures['prompt_tokens_read_mean']})"
    )


# How long customers waited: a table row's label and how to read it from run_level's figures.
WAIT_ROWS: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("first sentence p50 (s)", lambda f: f["first_sentence_s"]["p50"]),
    ("first sentence p95 (s)", lambda f: f["first_sentence_s"]["p95"]),
    ("complete p50 (s)", lambda f: f["complete_s"]["p50"]),
    ("complete p95 (s)", lambda f: f["complete_s"]["p95"]),
    ("slowest complete (s)", lambda f: f["slowest_complete_s"]),
]


def print_tables(report: dict[str, Any]) -> None:
    rows = [
        *WAIT_ROWS,
        ("sources shown p50 (s)", lambda f: f["sources_s"]["p50"]),
        ("prompt tokens read", lambda f: f["prompt_tokens_read_mean"]),
        ("errors", lambda f: f["errors"]),
        ("busy answers", lambda f: f["busy"]),
    ]
    for level in report["levels"]:
        key = str(level)
        if key not in report.get("ours", {}) or key not in report.get("naive", {}):
            continue
        print(f"\n== {level} customer(s) at once")
        print(f"{'figure':26} {'ours':>9} {'naive':>9} {'naive/ours':>10}")
        for label, get in rows:
            ours, naive = get(report["ours"][key]), get(report["naive"][key])
            ratio = f"{naive / ours:.1f}x" if isinstance(ours, int | float) and ours and naive else "-"
            print(f"{label:26} {ours!s:>9} {naive!s:>9} {ratio:>10}")


if __name__ == "__main__":
    main()
