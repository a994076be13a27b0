"""`make bench-engines`: one model in this process vs llama.cpp's llama-server with parallel slots.

All serve the same page and chat model to the scripted customers of bench/latency.py, at 1, 4 and 8
at once. In-process (the product's default): one answer at a time at the model, the customer-free
prefix of each prompt restored from the prefix cache. llama-server, reached through the inference pool
on loopback (parallel_answers = slots): N slots answering at once with continuous batching, run twice:
"private", where a slot reuses only the prompt it holds itself (--cache-ram 0), and with llama-server's
default host-memory prompt cache, which keeps whole prompts, customer questions included (8 GiB).
`make llama-server` builds the server from the llama.cpp sources the installed llama-cpp-python vendors.

Writes bench/out/engines.json and prints the comparison.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from latency import (  # noqa: E402
    CUSTOMERS,
    SEQUENTIAL_CUSTOMERS,
    WAIT_ROWS,
    raw_speed,
    record_timings,
    run_level,
    summary_line,
)

from agent.runtime.models import resolve  # noqa: E402
from agent.runtime.process import harden_process  # noqa: E402
from agent.settings import Settings, load_settings  # noqa: E402
from agent.wiring import Services, build_embedder, build_services  # noqa: E402
from tests.support import BackgroundServer, free_port, wait_for_http  # noqa: E402
from ui.app import create_app  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LEVELS = (1, 4, 8)
# engine → llama-server's host-memory prompt cache in MiB (None: the model in this process)
ENGINES: dict[str, int | None] = {"in-process": None, "server, private": 0, "server, RAM cache": 8192}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--server", type=Path, default=ROOT / ".venv" / "bin" / "llama-server")
    parser.add_argument("--slots", type=int, default=4, help="llama-server's parallel slots")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="comma-separated")
    parser.add_argument("--only", choices=list(ENGINES), help="run one engine only")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    if not args.server.exists():
        sys.exit(f"{args.server} not found: run `make llama-server` first")

    base = load_settings(rate_limits=False)  # scripted customers from loopback: no abuse protection
    port = free_port()
    remote = base.model_copy(
        update={"inference_urls": [f"http://127.0.0.1:{port}/v1"], "parallel_answers": args.slots}
    )
    harden_process(remote)  # declares the loopback server; nothing else may be reached
    embedder = build_embedder(base)
    in_process = build_services(base, embedder=embedder)
    report: dict[str, Any] = {"model": base.chat_model, "threads": base.threads, "slots": args.slots}
    report["llama_cpp"] = raw_speed(in_process)
    print(f"raw llama.cpp: {report['llama_cpp']}", flush=True)
    for engine, cache_ram_mb in ENGINES.items():
        if args.only and engine != args.only:
            continue
        if cache_ram_mb is None:
            report[engine] = serve_levels(engine, in_process, levels)
            continue
        server = start_llama_server(args.server, base, port, args.slots, cache_ram_mb, args.out)
        try:
            report[engine] = serve_levels(engine, build_services(remote, embedder=embedder), levels)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print_comparison(report, levels)
    (args.out / "engines.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"written: {args.out / 'engines.json'}")


def start_llama_server(
    binary: Path, settings: Settings, port: int, slots: int, cache_ram_mb: int, out: Path
) -> subprocess.Popen[bytes]:
    """llama-server on loopback: `slots` parallel slots of the configured context each, and a host-memory
    prompt cache of `cache_ram_mb` (0 = none: a slot keeps only its own last prompt)."""
    model = resolve(settings.chat_model, settings.models_dir)
    command = [
        str(binary),
        *("--model", str(model), "--host", "127.0.0.1", "--port", str(port)),
        *("--parallel", str(slots), "--ctx-size", str(slots * settings.context_tokens)),
        *("--threads", str(settings.threads), "--no-webui", "--cache-ram", str(cache_ram_mb)),
    ]
    log = (out / f"llama-server-cache-{cache_ram_mb}.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    wait_for_http(f"http://127.0.0.1:{port}/health", timeout_s=300, process=process)
    return process


def serve_levels(name: str, services: Services, levels: list[int]) -> dict[str, Any]:
    """Serve the page with these services; a warm-up pass, then each level of customers at once."""
    recorder = record_timings(services)
    server = BackgroundServer(create_app(services))
    url = server.start()
    figures: dict[str, Any] = {}
    try:
        figures["warm-up"] = run_level(url, 1, recorder, len(CUSTOMERS))
        print(f"{name:12} warm-up: {summary_line(figures['warm-up'])}", flush=True)
        for level in levels:
            figures[str(level)] = run_level(
                url, level, recorder, SEQUENTIAL_CUSTOMERS if level == 1 else level
            )
            print(f"{name:12} {level:>3} at once: {summary_line(figures[str(level)])}", flush=True)
    finally:
        server.stop()
    return figures


def print_comparison(report: dict[str, Any], levels: list[int]) -> None:
    """First sentence and complete answer per level for each engine, and each as a ratio of in-process."""
    rows = [
        *WAIT_ROWS,
        ("all customers done (s)", lambda f: f["wall_s"]),
        ("errors", lambda f: f["errors"]),
    ]
    engines = [e for e in ENGINES if e in report]
    for level in levels:
        print(f"\n== {level} customer(s) at once")
        print(f"{'figure':24}" + "".join(f"{e:>20}" for e in engines))
        for label, get in rows:
            ours = get(report["in-process"][str(level)]) if "in-process" in report else None
            cells = []
            for engine in engines:
                value = get(report[engine][str(level)])
                ratio = (
                    f" ({value / ours:.2f}x)" if ours and value is not None and engine != "in-process" else ""
                )
                cells.append(f"{value!s}{ratio}")
            print(f"{label:24}" + "".join(f"{c:>20}" for c in cells))


if __name__ == "__main__":
    main()
