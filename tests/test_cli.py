"""The `support-agent` console script, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODELS_DIR, SMALL_CHAT_MODEL, write_article

CLI = [sys.executable, "-m", "agent.cli"]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def env(demo_data_dir: Path) -> dict[str, str]:
    return {
        "SUPPORT_AGENT_DATA_DIR": str(demo_data_dir),
        "SUPPORT_AGENT_MODELS_DIR": str(MODELS_DIR),
        "SUPPORT_AGENT_CHAT_MODEL": SMALL_CHAT_MODEL,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }


@pytest.mark.parametrize("command", [[], ["index"], ["ask"], ["serve"], ["models"]])
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
    assert set(payload["timings"]) == {"retrieve_s", "ttft_s", "total_s"}


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
    again = _run(["index"], env, tmp_path)
    assert "added 0, updated 0, removed 0, unchanged 1" in again.stdout


def test_errors_are_readable_not_tracebacks(env: dict[str, str], tmp_path: Path) -> None:
    no_index = _run(["ask", "hello"], {**env, "SUPPORT_AGENT_DATA_DIR": str(tmp_path / "empty")}, tmp_path)
    assert no_index.returncode == 2
    assert "Run `make index`" in no_index.stderr and "Traceback" not in no_index.stderr
    bad_config = _run(["ask", "hello"], {**env, "SUPPORT_AGENT_TOP_K": "zero"}, tmp_path)
    assert bad_config.returncode == 2
    assert "top_k (env SUPPORT_AGENT_TOP_K)" in bad_config.stderr
    no_model = _run(["ask", "hello"], {**env, "SUPPORT_AGENT_CHAT_MODEL": "missing.gguf"}, tmp_path)
    assert no_model.returncode == 2 and "No model named 'missing.gguf'" in no_model.stderr
