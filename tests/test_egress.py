"""No egress: the guard refuses outbound connections, and the whole pipeline works with no network at all.

Every check that could reach out runs in its own empty network namespace (`unshare -rn`), so even a
regression cannot send a packet anywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.egress import is_allowed
from tests.conftest import MODELS_DIR, SMALL_CHAT_MODEL

ROOT = Path(__file__).resolve().parent.parent


def _can_isolate() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


needs_netns = pytest.mark.skipif(not _can_isolate(), reason="needs `unshare -rn` (network namespaces)")


def _isolated(command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a shell command in a fresh network namespace that has only a loopback interface."""
    return subprocess.run(
        ["unshare", "-rn", "sh", "-c", f"ip link set lo up 2>/dev/null; {command}"],
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("", True),
        ("10.0.0.5", False),
        ("203.0.113.7", False),
        ("huggingface.co", False),
        ("eu.api.example", False),
    ],
)
def test_only_loopback_is_allowed_by_default(host: str, allowed: bool) -> None:
    assert is_allowed(host) is allowed


@needs_netns
def test_guard_blocks_sockets_and_http_clients_but_not_loopback(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, socket, threading
            import httpx
            from agent.egress import EgressBlocked, blocked_attempts, install_egress_guard

            install_egress_guard()
            server = socket.create_server(("127.0.0.1", 0))
            threading.Thread(target=lambda: server.accept(), daemon=True).start()
            socket.create_connection(server.getsockname(), timeout=5).close()
            outcomes = {}
            for host, port in [("203.0.113.7", 443), ("huggingface.co", 443)]:
                try:
                    socket.create_connection((host, port), timeout=2)
                    outcomes[host] = "connected"
                except EgressBlocked:
                    outcomes[host] = "blocked"
                except OSError as exc:
                    outcomes[host] = f"other: {exc}"
            try:
                httpx.get("https://telemetry.example/collect", timeout=2)
                outcomes["httpx"] = "connected"
            except httpx.HTTPError as exc:
                outcomes["httpx"] = "blocked" if "egress guard" in str(exc) else f"other: {exc}"
            print(json.dumps({"outcomes": outcomes, "blocked": blocked_attempts()}))
            """
        )
    )
    result = _isolated(f"{sys.executable} {script}")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["outcomes"] == {"203.0.113.7": "blocked", "huggingface.co": "blocked", "httpx": "blocked"}
    assert ["telemetry.example", 443] in report["blocked"]
    assert "egress blocked: connection to huggingface.co:443" in result.stderr  # host and port, no payload


@needs_netns
def test_answering_works_with_no_network_and_nothing_tries_to_leave(demo_data_dir: Path) -> None:
    result = _isolated(
        f"{sys.executable} -m agent.cli ask --json 'Welche Zahlungsarten gibt es?'",
        env={
            "SUPPORT_AGENT_DATA_DIR": str(demo_data_dir),
            "SUPPORT_AGENT_MODELS_DIR": str(MODELS_DIR),
            "SUPPORT_AGENT_CHAT_MODEL": SMALL_CHAT_MODEL,
            # a shell may carry these; the app must force them off itself
            "HF_HUB_OFFLINE": "0",
            "GRADIO_ANALYTICS_ENABLED": "True",
        },
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["citations"], answer
    assert "egress blocked" not in result.stderr  # no library even tried to phone home
