"""Privacy records from the live configuration: the Art. 30 record, the DPIA inputs, the subprocessors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.cli import main
from agent.privacy.dpia import MEASURES, dpia_draft
from agent.privacy.records import processing_record, recipients, subprocessor_list
from agent.settings import Settings, load_settings

TESTS = Path(__file__).resolve().parent
HOSTS = {
    "llm.example.eu": "eu",
    "vectors.example.eu": "eu",
    "db.example.eu": "eu",
    "keys.example.eu": "eu",
    "helpdesk.example.ch": "ch",
    "alerts.example.eu": "eu",
}


@pytest.fixture
def remote() -> Settings:
    """Every kind of remote endpoint, each declared; the helpdesk in another allowed jurisdiction."""
    return load_settings(
        allowed_jurisdictions=["eu", "ch"],
        endpoint_jurisdictions=HOSTS,
        endpoint_providers={"helpdesk.example.ch": "Helpdesk AG, Zürich"},
        inference_urls=["https://llm.example.eu/v1", "http://127.0.0.1:8081/v1"],
        vector_store_url="https://vectors.example.eu:8000",
        conversation_store_url="postgresql+psycopg://agent:s3cret@db.example.eu/agent?sslmode=verify-full",
        key_store_url="postgresql+psycopg://keys:s3cret@keys.example.eu/keys?sslmode=verify-full",
        handoff_webhook_url="https://helpdesk.example.ch/hooks/tickets",
        alert_webhook_url="https://alerts.example.eu/hooks/security",
        ticket_retention_days=60,
    )


def test_record_names_every_allowed_endpoint_with_its_jurisdiction(remote: Settings) -> None:
    record = processing_record(remote)
    named = {r.host for r in recipients(remote)}
    assert named == remote.egress_allowlist()  # the record and the egress guard never drift apart
    for host, jurisdiction in HOSTS.items():
        assert re.search(rf"{re.escape(host)}\S* \(jurisdiction: {jurisdiction};", record), host
    assert "Helpdesk (handoff webhook): https://helpdesk.example.ch/hooks/tickets" in record
    assert "operated by: Helpdesk AG, Zürich" in record
    assert "127.0.0.1:8081/v1 (jurisdiction: this machine (loopback)" in record
    assert "handoff contact data" in record and "s3cret" not in record
    assert "Declared jurisdictions of the recipients: ch, eu" in record
    assert "handoff tickets: 60 days after they are marked done" in record
    for period in (
        "conversations: 30 days",
        "feedback and unanswered questions: 90 days",
        "audit trail: 730",
    ):
        assert period in record


def test_record_of_a_machine_that_sends_nothing_anywhere() -> None:
    record = processing_record(load_settings())
    assert "None. Everything runs on this machine" in record
    assert "Handoff tickets stay in the staff console" in record
    assert "| Transfers to third countries | None: nothing leaves this machine |" in record


def test_subprocessor_list_for_the_dpa(remote: Settings) -> None:
    listed = subprocessor_list(remote)
    rows = [line for line in listed.splitlines() if line.startswith("| ") and "example" in line]
    assert len(rows) == 6 and "127.0.0.1" not in listed
    assert any("helpdesk.example.ch | Helpdesk AG, Zürich | ch" in row for row in rows)
    assert any("llm.example.eu | not declared (set endpoint_providers) | eu" in row for row in rows)
    assert "None: no personal data leaves this machine" in subprocessor_list(load_settings())


def test_dpia_names_measures_and_real_tests(remote: Settings) -> None:
    draft = dpia_draft(remote)
    for section in (
        "## 1. Processing",
        "## 2. Necessity and proportionality",
        "## 3. Risks",
        "## 4. Measures",
    ):
        assert section in draft
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", draft)
    assert len(named) == sum(len(m.tests) for m in MEASURES) and {m.name for m in MEASURES} <= set(
        re.findall(r"^\| ([^|]+?) \|", draft, re.MULTILINE)
    )
    for file, name in named:
        source = TESTS.parent / file
        assert source.is_file(), file
        assert re.search(rf"^def {name}\(", source.read_text(encoding="utf-8"), re.MULTILINE), (
            f"{file}::{name}"
        )
    # risks that only this configuration brings are named
    assert "llm.example.eu (eu)" in draft and "helpdesk.example.ch (ch)" in draft
    assert "`handoff_webhook_url`" in draft
    assert "deleted 60 days after the ticket is done" in draft
    assert "is switched off" not in draft
    assert "Redaction of NAME is switched off" in dpia_draft(
        load_settings(redaction_types=["EMAIL", "IBAN", "CARD", "VAT", "TAX_ID", "IP", "PHONE", "ADDRESS"])
    )


def test_cli_prints_the_dpia_and_the_subprocessors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["privacy", "dpia", "--data-dir", str(tmp_path)]) == 0
    draft = capsys.readouterr().out
    assert draft.startswith("# Data protection impact assessment") and "tests/test_retention.py::" in draft
    assert main(["privacy", "subprocessors", "--data-dir", str(tmp_path)]) == 0
    assert "# Subprocessors" in capsys.readouterr().out
