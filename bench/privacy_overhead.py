"""`make bench-privacy`: what privacy costs per chat turn – redaction and sealed storage – against the naive
baseline (no redaction, plaintext rows in SQLite), in one run. Prints figures and ratios and writes
bench/out/privacy.json.

The chat model takes 10–20 s per answer on 2 cores; this shows how small the privacy part is next to it.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agent.privacy.crypto import Keyring, new_reference_code
from agent.privacy.redaction import Redactor
from agent.privacy.store import ConversationStore, sqlite_url
from agent.runtime.process import harden_process
from agent.settings import load_settings

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "redaction_corpus.jsonl"
OUT = Path(__file__).resolve().parent / "out" / "privacy.json"
ROUNDS = 20


def _per_call_ms(run: Callable[[], int], rounds: int = ROUNDS) -> float:
    """Median milliseconds per item over several rounds (run returns how many items it did)."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        items = run()
        samples.append((time.perf_counter() - start) * 1000 / items)
    return statistics.median(samples)


def main() -> None:
    harden_process(load_settings(), temp_dir=OUT.parent / "tmp")  # the stores below live in a temp dir there
    messages = [json.loads(line)["text"] for line in CORPUS.open(encoding="utf-8")]
    redactor = Redactor()
    results: dict[str, float] = {}

    results["redact_ms_per_message"] = _per_call_ms(lambda: len([redactor.redact(m) for m in messages]))
    results["baseline_copy_ms_per_message"] = _per_call_ms(lambda: len([str(m) for m in messages]))

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = ConversationStore(
            sqlite_url(root / "conversations.db"), sqlite_url(root / "keys.db"), Keyring(bytes(range(32)))
        )
        reference = new_reference_code()
        store.open_subject(reference, "bench")

        def sealed_inserts() -> int:
            for message in messages:
                store.append(reference, "customer", message)
            return len(messages)

        plain = sqlite3.connect(root / "plain.db")
        plain.execute("PRAGMA journal_mode=WAL")
        plain.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, subject TEXT, role TEXT, text TEXT)")

        def plain_inserts() -> int:
            for m in messages:
                with plain:
                    plain.execute("INSERT INTO messages(subject, role, text) VALUES (?, ?, ?)", ("s", "c", m))
            return len(messages)

        results["sealed_store_ms_per_message"] = _per_call_ms(sealed_inserts)
        results["plaintext_sqlite_ms_per_message"] = _per_call_ms(plain_inserts)

        def erase_one() -> int:
            code = new_reference_code()
            subject = store.open_subject(code, "bench")
            for message in messages:
                store.append(code, "customer", message)
            store.erase(subject)
            return 1

        results["erase_subject_ms_incl_31_messages"] = _per_call_ms(erase_one, rounds=5)
        store.close()

    turn_ours = results["redact_ms_per_message"] + 2 * results["sealed_store_ms_per_message"]
    turn_naive = results["baseline_copy_ms_per_message"] + 2 * results["plaintext_sqlite_ms_per_message"]
    results["privacy_ms_per_turn"] = turn_ours
    results["naive_ms_per_turn"] = turn_naive
    print(f"{'figure':<40}{'ms':>10}")
    for name, value in results.items():
        print(f"{name:<40}{value:>10.3f}")
    store_ratio = results["sealed_store_ms_per_message"] / results["plaintext_sqlite_ms_per_message"]
    print(f"\nsealed store vs plaintext SQLite: {store_ratio:.2f}x")
    print(
        f"per chat turn (question + answer): ours {turn_ours:.2f} ms vs naive {turn_naive:.2f} ms "
        f"({turn_ours / turn_naive:.2f}x); a 1.5B answer takes ~13000 ms here"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({k: round(v, 4) for k, v in results.items()}, indent=2))
    print(f"written: {OUT}")


if __name__ == "__main__":
    main()
