"""Scale-out on real servers over loopback: a Chroma server and a pool of llama.cpp OpenAI-compatible
servers; and the start-up refusal of undeclared, non-EU or plain-HTTP remote endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.answering.generation import GenerationOptions
from agent.answering.inference_pool import InferencePool
from agent.errors import ModelError
from agent.runtime.models import resolve
from tests.conftest import MODELS_DIR, SMALL_CHAT_MODEL
from tests.support import free_port, wait_for_http

CHROMA = Path(sys.executable).with_name("chroma")
ROOT = Path(__file__).resolve().parent.parent


def _start(command: list[str], ready_url: str, log: Path) -> subprocess.Popen[bytes]:
    """Start a server and wait (up to 2 minutes) until `ready_url` answers 200."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_http(ready_url, timeout_s=120, process=process)
    except (AssertionError, RuntimeError) as exc:
        process.kill()
        raise RuntimeError(f"{command[0]} did not become ready ({exc}): {log.read_text()[-2000:]}") from None
    return process


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    command = [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    process = _start(command, f"http://127.0.0.1:{port}/api/v2/heartbeat", path.parent / "chroma.log")
    yield f"http://127.0.0.1:{port}", path
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def inference_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(resolve(SMALL_CHAT_MODEL, MODELS_DIR)),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
    ]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    process = _start(command, f"http://127.0.0.1:{port}/v1/models", log)
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=30)


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_index_and_answer_through_a_chroma_server_and_an_inference_pool(
    chroma_server: tuple[str, Path], inference_server: str, tmp_path: Path
) -> None:
    store_url, store_path = chroma_server
    dead = f"http://127.0.0.1:{free_port()}/v1"  # a pool member that is down: skipped
    env = {
        "SUPPORT_AGENT_DATA_DIR": str(tmp_path / "data"),
        "SUPPORT_AGENT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
        "SUPPORT_AGENT_MODELS_DIR": str(MODELS_DIR),
        "SUPPORT_AGENT_VECTOR_STORE_URL": store_url,
        "SUPPORT_AGENT_INFERENCE_URLS": json.dumps([dead, inference_server]),
    }
    indexed = _cli(["index"], env, tmp_path)
    assert indexed.returncode == 0, indexed.stderr
    assert "added 47" in indexed.stdout
    # the vectors live in the server's store; the data dir keeps only the run report
    assert (store_path / "chroma.sqlite3").is_file()
    assert sorted(p.name for p in (tmp_path / "data" / "index").iterdir()) == ["last_run.json"]

    asked = _cli(["ask", "--json", "Can I pay on invoice?"], env, tmp_path)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not answer["refused"]
    assert answer["citations"][0]["id"] in {"en-invoice", "en-payment-methods"}
    assert "not reached" in asked.stderr  # the dead pool member was skipped, not fatal
    assert "egress blocked" not in asked.stderr


def test_pool_reports_clearly_when_no_server_answers() -> None:
    pool = InferencePool(
        [f"http://127.0.0.1:{free_port()}/v1", f"http://127.0.0.1:{free_port()}/v1"],
        model="default",
        options=GenerationOptions(max_tokens=8),
    )
    with pytest.raises(ModelError, match="No inference server answered"):
        list(pool.stream([{"role": "user", "content": "hi"}]))


def test_pool_takes_turns(inference_server: str) -> None:
    pool = InferencePool([inference_server], model="default", options=GenerationOptions(max_tokens=8))
    text = "".join(pool.stream([{"role": "user", "content": "Say hello."}]))
    assert text.strip()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SUPPORT_AGENT_INFERENCE_URLS": '["https://llm.example.com/v1"]'},
            "has no declared jurisdiction",
        ),
        (
            {
                "SUPPORT_AGENT_VECTOR_STORE_URL": "https://vectors.example.com",
                "SUPPORT_AGENT_ENDPOINT_JURISDICTIONS": '{"vectors.example.com": "us"}',
            },
            "declared in jurisdiction 'us', but only eu is allowed",
        ),
        (
            {
                "SUPPORT_AGENT_INFERENCE_URLS": '["http://llm.example.eu:8080/v1"]',
                "SUPPORT_AGENT_ENDPOINT_JURISDICTIONS": '{"llm.example.eu": "eu"}',
            },
            "must use TLS (use https://)",
        ),
    ],
)
def test_undeclared_non_eu_or_plain_http_endpoints_are_refused_at_start(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    result = _cli(["serve"], {"SUPPORT_AGENT_DATA_DIR": str(tmp_path / "data"), **env}, tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was started or written
