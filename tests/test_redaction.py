"""Redaction corpus (German and English): true positives are replaced, near-misses survive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.privacy.redaction import REDACTION_TYPES, Redactor
from agent.settings import Settings

CORPUS = [json.loads(line) for line in (Path(__file__).parent / "data" / "redaction_corpus.jsonl").open()]


@pytest.mark.parametrize("case", CORPUS, ids=[c["text"][:40] for c in CORPUS])
def test_corpus(case: dict) -> None:
    result = Redactor().redact(case["text"])
    assert sorted(result.found) == sorted(set(case["expect"])), result.text
    for secret in case["secret"]:
        assert secret not in result.text
    for kind in case["expect"]:
        assert f"[{kind}]" in result.text
    if not case["expect"]:
        assert result.text == case["text"]  # near-misses survive untouched


def test_corpus_covers_every_type_and_both_languages() -> None:
    found = {kind for case in CORPUS for kind in case["expect"]}
    assert found == set(REDACTION_TYPES)
    assert sum(1 for c in CORPUS if not c["expect"]) >= 10  # near-misses


def test_types_are_configurable() -> None:
    only_email = Redactor(["EMAIL"])
    result = only_email.redact("mail a@b.de or call 0171 2345678")
    assert result.text == "mail [EMAIL] or call 0171 2345678"
    assert result.found == {"EMAIL": 1}


def test_unknown_type_is_a_clear_config_error() -> None:
    from agent.errors import ConfigError
    from agent.settings import load_settings

    with pytest.raises(ConfigError, match="redaction_types.*unknown type.*PASSPORT"):
        load_settings(redaction_types=["EMAIL", "passport"])


def test_several_items_in_one_message() -> None:
    text = (
        "Ich bin Jana, jana@example.de, 0171 2345678, IBAN DE89370400440532013000, Bestellung NL-2024-123456"
    )
    result = Redactor().redact(text)
    assert result.found == {"EMAIL": 1, "PHONE": 1, "IBAN": 1}
    assert result.text.endswith("Bestellung NL-2024-123456")


def test_default_settings_redact_every_type() -> None:
    assert Settings().redaction_types == list(REDACTION_TYPES)
