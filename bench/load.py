"""`make bench-load`: 20 customers chatting for a few minutes against the served app (small test model).

Starts `support-agent serve` as its own process on loopback (the small chat model, a throwaway data
dir, loopback as the trusted proxy so that each simulated customer can come from an address of its own,
as real customers do) and lets 20 scripted customers chat: each consents (half keep their conversation),
then asks a question every 20–40 s (a person reading the answer) until the time is up. Bounded: a fixed
number of customers, a fixed duration, a timeout per turn, loopback only.

Checked and reported: errors; lost turns (each keeping customer's export must hold every question they
sent and its answer); rate-limited or busy answers under this normal behaviour; the server's memory
(RSS) after warm-up, at the end and at its highest; answer times.

Writes bench/out/load.json and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency import CUSTOMERS  # noqa: E402
from tests.support import free_port, message_text, wait_for_http  # noqa: E402

SMALL_MODEL = "smollm2-135m-instruct"
TURN_TIMEOUT_S = 120.0
LIMITED = ("wait a minute", "eine Minute", "try again later", "später noch einmal")
BUSY = ("sehr viele Kunden", "a lot of customers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--think", default="20,40", help="seconds between a customer's questions: min,max")
    args = parser.parse_args()
    think = tuple(float(x) for x in args.think.split(","))
    data = args.out / "load" / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    port = free_port()
    env = {
        **os.environ,
        "SUPPORT_AGENT_DATA_DIR": str(data),
        "SUPPORT_AGENT_CHAT_MODEL": SMALL_MODEL,
        "SUPPORT_AGENT_TRUSTED_PROXIES": '["127.0.0.1"]',
    }
    cli = [sys.executable, "-m", "agent.cli"]
    subprocess.run([*cli, "index"], env=env, cwd=ROOT, check=True, capture_output=True)
    log = (args.out / "load" / "server.log").open("w")  # the server's own warnings, apart from the figures
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)], env=env, cwd=ROOT, start_new_session=True, stderr=log
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, timeout_s=300, process=server)
        memory = MemorySampler(server.pid)
        memory.start()
        deadline = time.monotonic() + 60 * args.minutes
        results: list[dict[str, Any]] = [{} for _ in range(args.customers)]
        threads = [
            threading.Thread(target=customer, args=(url, n, n % 2 == 0, deadline, think, results[n]))
            for n in range(args.customers)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
            time.sleep(0.5)  # customers arrive one after another, not in the same millisecond
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        memory.stop()
        lost = [check_export(url, r) for r in results if r.get("reference")]
        metrics = httpx.get(f"{url}metrics", timeout=30).text
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=60)
        log.close()
    report = summarise(results, lost, memory, wall, metrics)
    print_report(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"written: {args.out / 'load.json'}")


def customer(
    url: str, number: int, keep: bool, deadline: float, think: tuple[float, float], result: dict[str, Any]
) -> None:
    """One customer from an address of their own: consent, then questions until the time is up."""
    from gradio_client import Client

    rng = random.Random(number)
    client = Client(url, verbose=False, headers={"X-Forwarded-For": f"198.51.100.{number + 1}"})
    _, code, *_ = client.predict(api_name="/consent_store" if keep else "/consent_none")
    result.update(reference=code or None, turns=[], sent=0)
    script = [q for conversation in CUSTOMERS[number % len(CUSTOMERS) :] + CUSTOMERS for q in conversation]
    for question in script:
        if time.monotonic() > deadline:
            break
        result["sent"] += 1
        result["turns"].append(turn(client, question))
        time.sleep(rng.uniform(*think))  # the customer reads the answer


def turn(client: Any, question: str) -> dict[str, Any]:
    """One question; what came back and how long it took."""
    started = time.perf_counter()
    try:
        box, chat = client.submit(question, api_name="/chat").result(timeout=TURN_TIMEOUT_S)
        text = message_text(chat[-1]) if chat else ""
        ok = bool(text) and box == ""
    except Exception:  # noqa: BLE001 - any failure is an error of this turn
        text, ok = "", False
    return {
        "ok": ok,
        "seconds": round(time.perf_counter() - started, 2),
        "limited": any(marker in text for marker in LIMITED),
        "busy": any(marker in text for marker in BUSY),
    }


def check_export(url: str, result: dict[str, Any]) -> int:
    """How many of this keeping customer's questions (and answers) are missing from their export."""
    from gradio_client import Client

    _, data_file = Client(url, verbose=False).predict(result["reference"], api_name="/download_my_data")
    path = data_file if isinstance(data_file, str) else data_file["path"]
    export = json.loads(Path(path).read_text(encoding="utf-8"))
    questions = sum(1 for m in export["messages"] if m["from"] == "customer")
    answers = len(export["messages"]) - questions
    answered = sum(t["ok"] and not t["limited"] for t in result["turns"])
    return max(0, answered - questions) + max(0, answered - answers)


class MemorySampler:
    """The server's resident memory every 2 seconds (from /proc)."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            status = Path(f"/proc/{self._pid}/status").read_text()
            rss_kb = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
            self.samples.append((time.monotonic() - self._started, rss_kb))
            self._stop.wait(2.0)


def summarise(
    results: list[dict[str, Any]], lost: list[int], memory: MemorySampler, wall: float, metrics: str
) -> dict[str, Any]:
    """The run's figures."""
    turns = [t for r in results for t in r.get("turns", [])]
    seconds = sorted(t["seconds"] for t in turns if t["ok"])
    after_warmup = [rss for at, rss in memory.samples if at >= 60] or [rss for _, rss in memory.samples]
    return {
        "customers": len(results),
        "keeping_their_conversation": sum(bool(r.get("reference")) for r in results),
        "wall_s": round(wall, 1),
        "turns": len(turns),
        "errors": sum(not t["ok"] for t in turns),
        "lost_turns": sum(lost),
        "rate_limited": sum(t["limited"] for t in turns),
        "busy": sum(t["busy"] for t in turns),
        "answer_s_p50": seconds[len(seconds) // 2] if seconds else None,
        "answer_s_p95": seconds[int(len(seconds) * 0.95)] if seconds else None,
        "answer_s_max": seconds[-1] if seconds else None,
        "rss_mb_after_warmup": round(after_warmup[0] / 1024, 1),
        "rss_mb_end": round(memory.samples[-1][1] / 1024, 1),
        "rss_mb_max": round(max(rss for _, rss in memory.samples) / 1024, 1),
        "rss_mb_mean": round(statistics.fmean(rss for _, rss in memory.samples) / 1024, 1),
        "rss_mb_by_minute": [
            round(next(rss for at, rss in memory.samples if at >= minute * 60) / 1024, 1)
            for minute in range(int(memory.samples[-1][0] // 60) + 1)
        ],
        "server_rate_limited_metric": [
            line for line in metrics.splitlines() if "rate_limited_total{" in line
        ],
    }


def print_report(report: dict[str, Any]) -> None:
    for name, value in report.items():
        print(f"{name:32} {value}")


if __name__ == "__main__":
    main()
