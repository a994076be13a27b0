"""The hash-chained audit trail detects edited, removed, reordered and cut-off entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.privacy.audit import AuditLog


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "audit" / "audit.jsonl")
    for number in range(5):
        log.record("consent_given", "customer", choice="store", subject=f"s{number}")
    return log


def _lines(audit: AuditLog) -> list[str]:
    return audit.path.read_text().splitlines()


def _write(audit: AuditLog, lines: list[str]) -> None:
    audit.path.write_text("\n".join(lines) + "\n")


def test_intact_chain_verifies(audit: AuditLog) -> None:
    report = audit.verify()
    assert report.ok and report.entries == 5
    assert [e["seq"] for e in audit.entries()] == [1, 2, 3, 4, 5]
    assert audit.entries()[1]["prev"] == audit.entries()[0]["hash"]


def test_edited_entry_is_detected(audit: AuditLog) -> None:
    lines = _lines(audit)
    entry = json.loads(lines[2])
    entry["details"]["choice"] = "no_store"
    lines[2] = json.dumps(entry, sort_keys=True)
    _write(audit, lines)
    assert any("line 3" in p and "edited" in p for p in audit.verify().problems)


def test_removed_entry_is_detected(audit: AuditLog) -> None:
    lines = _lines(audit)
    del lines[1]
    _write(audit, lines)
    assert any("removed or reordered" in p for p in audit.verify().problems)


def test_reordered_entries_are_detected(audit: AuditLog) -> None:
    lines = _lines(audit)
    lines[1], lines[3] = lines[3], lines[1]
    _write(audit, lines)
    assert not audit.verify().ok


def test_cut_off_tail_is_detected(audit: AuditLog) -> None:
    _write(audit, _lines(audit)[:-1])
    assert any("cut off" in p for p in audit.verify().problems)


def test_cli_verify_exit_codes(audit: AuditLog, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = audit.path.parent.parent
    assert main(["audit", "verify", "--data-dir", str(data_dir)]) == 0
    assert "intact: 5 entries" in capsys.readouterr().out
    lines = _lines(audit)
    _write(audit, [lines[0], lines[2].replace('"s2"', '"s9"'), *lines[3:]])
    assert main(["audit", "verify", "--data-dir", str(data_dir)]) == 1
    assert "TAMPERED" in capsys.readouterr().out
