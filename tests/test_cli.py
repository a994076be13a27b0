"""The `support-agent` console script, run as a real subprocess."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.staff.accounts import ROLES
from tests.conftest import MODELS_DIR, SMALL_CHAT_MODEL, write_article

CLI = [sys.executable, "-m", "agent.cli"]


def _run(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        CLI + args, env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True, input=stdin
    )


def _audited(env: dict[str, str], cwd: Path) -> list[tuple[str, str]]:
    """(event, actor) of every audit entry, through `audit list`."""
    listed = _run(["audit", "list", "--last", "1000"], env, cwd)
    assert listed.returncode == 0, listed.stderr
    return [tuple(line.split()[2:4]) for line in listed.stdout.splitlines()]  # type: ignore[misc]


@pytest.fixture
def env(demo_data_dir: Path) -> dict[str, str]:
    return {
        "SUPPORT_AGENT_DATA_DIR": str(demo_data_dir),
        "SUPPORT_AGENT_MODELS_DIR": str(MODELS_DIR),
        "SUPPORT_AGENT_CHAT_MODEL": SMALL_CHAT_MODEL,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }


@pytest.mark.parametrize("command", [[], ["index"], ["ask"], ["serve"], ["models"], ["backup"]])
def test_help(command: list[str], env: dict[str, str], tmp_path: Path) -> None:
    result = _run(command + ["--help"], env, tmp_path)
    assert result.returncode == 0
    assert "usage: support-agent" in result.stdout


def test_ask_json_shape(env: dict[str, str], tmp_path: Path) -> None:
    result = _run(["ask", "--json", "Welche Zahlungsarten gibt es?"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"answer", "citations", "refused", "timings"}
    assert payload["refused"] is False and payload["answer"]
    assert set(payload["citations"][0]) == {"id", "title", "url"}
    assert payload["citations"][0]["id"] == "de-zahlungsarten"
    assert {"retrieve_s", "ttft_s", "total_s"} <= set(payload["timings"])


def test_ask_out_of_scope_json(env: dict[str, str], tmp_path: Path) -> None:
    result = _run(["ask", "--json", "What is the capital of Australia?"], env, tmp_path)
    payload = json.loads(result.stdout)
    assert payload["refused"] is True and payload["citations"] == []
    assert payload["timings"]["ttft_s"] == 0.0


def test_index_prints_summary_and_reports_invalid_files(env: dict[str, str], tmp_path: Path) -> None:
    knowledge = tmp_path / "kb"
    knowledge.mkdir()
    write_article(knowledge, "en-one", body="Parcels arrive in 1-3 business days.")
    (knowledge / "bad.md").write_text("---\nid: bad\n---\ntext\n", encoding="utf-8")
    env = {
        **env,
        "SUPPORT_AGENT_DATA_DIR": str(tmp_path / "data"),
        "SUPPORT_AGENT_KNOWLEDGE_DIR": str(knowledge),
    }
    result = _run(["index"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "index: added 1, updated 0, removed 0, unchanged 0, invalid 1" in result.stdout
    assert "bad.md [title]: missing" in result.stderr
    assert "1 invalid article file(s) skipped; 1 valid" in result.stderr
    again = _run(["index"], env, tmp_path)
    assert "added 0, updated 0, removed 0, unchanged 1" in again.stdout
    assert _audited(env, tmp_path).count(("reindex", f"cli:{getpass.getuser()}")) == 2


def test_users_commands_are_audited_as_the_cli_user(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "SUPPORT_AGENT_DATA_DIR": str(tmp_path / "data")}
    password = "correct horse battery staple\n"
    added = _run(["users", "add", "kim", "--role", ROLES[0], "--password-stdin"], env, tmp_path, password)
    assert added.returncode == 0 and f"added kim ({ROLES[0]})" in added.stdout, added.stderr
    reset = _run(["users", "reset-password", "kim", "--password-stdin"], env, tmp_path, "another one, long\n")
    assert reset.returncode == 0 and "unlocked" in reset.stdout
    listed = _run(["users", "list"], env, tmp_path)
    assert listed.stdout.split()[:3] == ["kim", ROLES[0], "active"]
    assert _run(["users", "remove", "kim"], env, tmp_path).returncode == 0
    actor = f"cli:{getpass.getuser()}"
    assert _audited(env, tmp_path) == [
        ("staff_user_added", actor),
        ("staff_password_reset", actor),
        ("staff_user_removed", actor),
    ]
    verified = _run(["audit", "verify"], env, tmp_path)
    assert verified.returncode == 0 and "audit trail intact: 3 entries" in verified.stdout
    unknown = _run(["users", "add", "kim", "--role", "boss", "--password-stdin"], env, tmp_path, password)
    assert unknown.returncode == 2 and all(role in unknown.stderr for role in ROLES)  # argparse's choices
    no_role = _run(["users", "add", "kim", "--password-stdin"], env, tmp_path, password)
    assert no_role.returncode == 2 and "users add needs --role (support_lead, privacy_officer or admin)" in (
        no_role.stderr
    )


def test_users_totp_prints_the_enrolment_once_and_is_audited(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "SUPPORT_AGENT_DATA_DIR": str(tmp_path / "data")}
    password = "correct horse battery staple\n"
    assert (
        _run(
            ["users", "add", "anna", "--role", "admin", "--password-stdin"], env, tmp_path, password
        ).returncode
        == 0
    )
    enabled = _run(["users", "totp", "enable", "anna"], env, tmp_path)
    assert enabled.returncode == 0, enabled.stderr
    assert "otpauth://totp/" in enabled.stdout and "▀" in enabled.stdout  # the URI and the QR code
    assert enabled.stdout.count("\n  ") == 10  # the recovery codes
    assert _run(["users", "list"], env, tmp_path).stdout.split()[:4] == ["anna", "admin", "active", "2fa"]
    refused = _run(["users", "totp", "disable", "anna"], env, tmp_path)
    assert refused.returncode == 2 and "staff_two_factor_roles" in refused.stderr
    usage = _run(["users", "totp"], env, tmp_path)
    assert usage.returncode == 2 and "usage: users totp enable|disable|reset USERNAME" in usage.stderr
    actor = f"cli:{getpass.getuser()}"
    assert _audited(env, tmp_path)[-1] == ("staff_totp_enabled", actor)


def test_errors_are_readable_not_tracebacks(env: dict[str, str], tmp_path: Path) -> None:
    no_index = _run(["ask", "hello"], {**env, "SUPPORT_AGENT_DATA_DIR": str(tmp_path / "empty")}, tmp_path)
    assert no_index.returncode == 2
    assert "Run `make index`" in no_index.stderr and "Traceback" not in no_index.stderr
    bad_config = _run(["ask", "hello"], {**env, "SUPPORT_AGENT_TOP_K": "zero"}, tmp_path)
    assert bad_config.returncode == 2
    assert "top_k (env SUPPORT_AGENT_TOP_K)" in bad_config.stderr
    no_model = _run(["ask", "hello"], {**env, "SUPPORT_AGENT_CHAT_MODEL": "missing.gguf"}, tmp_path)
    assert no_model.returncode == 2 and "No model named 'missing.gguf'" in no_model.stderr


def test_simulate_refuses_a_folder_without_a_valid_article(env: dict[str, str], tmp_path: Path) -> None:
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    write_article(drafts, "en-no-audience", audience="")
    questions = tmp_path / "tickets.jsonl"
    questions.write_text('{"id": "t1", "question": "How do I return an item?"}\n', encoding="utf-8")
    out = tmp_path / "sim"
    command = ["simulate", "--questions", str(questions), "--out", str(out), "--knowledge", str(drafts)]
    result = _run(command, env, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "No valid article in" in result.stderr and "en-no-audience.md [audience]: missing" in result.stderr
    assert not (out / "summary.json").exists()  # no 0 % report of an empty index
