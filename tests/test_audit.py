"""The hash-chained audit trail detects edited, removed, reordered and cut-off entries, also after
old entries were pruned behind a checkpoint."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.cli import main
from agent.privacy.audit import AuditError, AuditLog


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


class Clock:
    """A settable clock for the audit trail."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _dated_trail(tmp_path: Path) -> tuple[AuditLog, Clock]:
    """Ten entries, one a day from 2026-01-01."""
    clock = Clock()
    log = AuditLog(tmp_path / "audit" / "audit.jsonl", clock=clock)
    for day in range(10):
        clock.now = datetime(2026, 1, 1 + day, tzinfo=UTC)
        log.record("consent_given", "customer", choice="store", subject=f"s{day}")
    return log, clock


def test_pruned_trail_verifies_and_edits_after_pruning_are_detected(tmp_path: Path) -> None:
    log, clock = _dated_trail(tmp_path)
    assert log.prune(before=datetime(2026, 1, 1, tzinfo=UTC)) == 0  # nothing that old
    assert not log.checkpoint_path.exists()
    assert log.prune(before=datetime(2026, 1, 5, tzinfo=UTC)) == 4
    assert [e["seq"] for e in log.entries()] == [5, 6, 7, 8, 9, 10, 11]
    assert log.entries()[-1]["event"] == "audit_pruned"
    assert log.entries()[-1]["details"]["through_seq"] == 4
    report = log.verify()
    assert report.ok, report.problems
    assert (report.entries, report.pruned) == (7, 4)
    log.record("export", "cli:kim", subject="s1")  # the trail goes on after pruning
    assert log.prune(before=datetime(2026, 1, 8, tzinfo=UTC)) == 3  # a second prune moves the checkpoint
    report = log.verify()
    assert report.ok and report.pruned == 7, report.problems

    lines = _lines(log)
    entry = json.loads(lines[0])
    entry["details"]["subject"] = "s0"
    _write(log, [json.dumps(entry, sort_keys=True), *lines[1:]])
    assert any("line 1" in p and "edited" in p for p in log.verify().problems)


def test_an_edited_or_removed_checkpoint_is_detected(tmp_path: Path) -> None:
    log, _ = _dated_trail(tmp_path)
    log.prune(before=datetime(2026, 1, 5, tzinfo=UTC))
    checkpoint = log.checkpoint_path.read_text()
    lines = _lines(log)

    # hide two more entries: cut them off the start and make the checkpoint point at the new start
    first_kept = json.loads(lines[2])
    forged = json.loads(checkpoint) | {
        "through_seq": first_kept["seq"] - 1,
        "through_hash": first_kept["prev"],
    }
    log.checkpoint_path.write_text(json.dumps(forged, sort_keys=True))
    _write(log, lines[2:])
    assert any("checkpoint" in p for p in log.verify().problems)

    # a checkpoint that only claims more entries were pruned
    _write(log, lines)
    log.checkpoint_path.write_text(checkpoint.replace('"pruned_total": 4', '"pruned_total": 2'))
    assert any("checkpoint" in p for p in log.verify().problems)

    # no checkpoint at all: the trail no longer starts at entry 1
    log.checkpoint_path.unlink()
    assert any("expected 1" in p for p in log.verify().problems)
    log.checkpoint_path.write_text(checkpoint)
    assert log.verify().ok


def test_a_trail_that_does_not_verify_is_not_pruned(tmp_path: Path) -> None:
    log, _ = _dated_trail(tmp_path)
    lines = _lines(log)
    _write(log, [lines[0].replace('"s0"', '"s9"'), *lines[1:]])  # an old entry edited
    with pytest.raises(AuditError, match="line 1: content does not match"):
        log.prune(before=datetime(2026, 1, 5, tzinfo=UTC))
    assert len(_lines(log)) == 10 and not log.checkpoint_path.exists()


def test_cli_verify_after_pruning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, _ = _dated_trail(tmp_path)
    log.prune(before=datetime(2026, 1, 4, tzinfo=UTC))
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "intact: 8 entries" in out and "3 older entries pruned" in out


def test_a_copy_of_a_pruned_trail_verifies(tmp_path: Path) -> None:
    log, _ = _dated_trail(tmp_path)
    log.prune(before=datetime(2026, 1, 5, tzinfo=UTC))
    log.copy_to(tmp_path / "backup")  # what `backup create` keeps
    copy = AuditLog(tmp_path / "backup" / log.path.name)
    assert copy.checkpoint_path.exists()
    report = copy.verify()
    assert report.ok and report.pruned == 4, report.problems
