"""No egress: the guard refuses outbound connections, and the whole pipeline works with no network at all.

Every check that could reach out runs in its own empty network namespace (`unshare -rn`), so even a
regression cannot send a packet anywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.runtime.egress import EgressGuard
from tests.conftest import MODELS_DIR, SMALL_CHAT_MODEL
from tests.support import free_port, wait_for_http
from tests.syscall_audit import TRACED_CALLS, read_trace

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
    assert EgressGuard().is_allowed(host) is allowed


def test_a_declared_endpoint_is_allowed_and_each_guard_keeps_its_own_record() -> None:
    guard = EgressGuard({"EU.API.Example"})
    assert guard.is_allowed("eu.api.example") and not guard.is_allowed("api.example")
    with pytest.raises(PermissionError, match="blocked by the egress guard"):
        guard.audit("socket.connect", (object(), ("203.0.113.7", 443)))
    guard.audit("socket.connect", (object(), ("127.0.0.1", 8080)))  # loopback passes
    assert guard.blocked_attempts() == [("203.0.113.7", 443)]
    assert EgressGuard().blocked_attempts() == []


@needs_netns
def test_guard_blocks_sockets_and_http_clients_but_not_loopback(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, socket, threading
            import httpx
            from agent.runtime.egress import EgressBlocked, blocked_attempts, install_egress_guard

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


needs_strace = pytest.mark.skipif(not shutil.which("strace"), reason="needs strace")


@needs_strace
def test_index_chat_and_simulation_contact_nobody_and_write_only_to_the_data_dir(tmp_path: Path) -> None:
    from gradio_client import Client

    data, out, home = tmp_path / "data", tmp_path / "simulation", tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",  # the interpreter's own .pyc cache is not ours to judge
        "HOME": str(home),  # anything written under ~ (caches, telemetry ids) shows up as a violation
        "SUPPORT_AGENT_DATA_DIR": str(data),
        "SUPPORT_AGENT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
        "SUPPORT_AGENT_MODELS_DIR": str(MODELS_DIR),
        "SUPPORT_AGENT_CHAT_MODEL": SMALL_CHAT_MODEL,
    }
    questions = tmp_path / "tickets.jsonl"
    questions.write_text(
        json.dumps({"id": "t1", "question": "do you take paypal", "expected_article": "en-payment-methods"})
        + "\n"
    )

    def traced(name: str) -> list[str]:
        return ["strace", "-f", "-qq", "-e", f"trace={TRACED_CALLS}", "-o", str(tmp_path / f"{name}.trace")]

    cli = [sys.executable, "-m", "agent.cli"]
    steps = {
        "index": ["index"],
        "ask": ["ask", "--json", "Kann ich auf Rechnung bezahlen?"],
        "simulate": ["simulate", "--questions", str(questions), "--out", str(out), "--retrieval-only"],
    }
    for name, args in steps.items():
        result = subprocess.run(
            traced(name) + cli + args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900
        )
        assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"

    port = free_port()
    server = subprocess.Popen(
        traced("serve") + cli + ["serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # so Ctrl-C can go to the server itself, not only to strace
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_http(url, timeout_s=300, process=server)
        client = Client(url, verbose=False)
        client.predict(api_name="/consent_store")  # the stored path: store, keys, audit under strace
        _, chat = client.predict("Welche Zahlungsarten gibt es?", api_name="/chat")
        assert "Quelle" in str(chat[-1]["content"])
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=60)

    allowed = [data, out, Path("/dev/null"), Path("/dev/shm"), Path("/dev/tty")]
    for name in [*steps, "serve"]:
        report = read_trace(tmp_path / f"{name}.trace", tmp_path)
        print(
            f"\n{name}: remote connections {report.remote or 'none'}, loopback {report.loopback}, "
            f"unix {report.unix}; paths written {len(report.written)}, outside the data dir "
            f"{report.written_outside(allowed) or 'none'}"
        )
        assert report.remote == [], f"{name} tried to connect to {report.remote}"
        assert report.written_outside(allowed) == [], f"{name} wrote outside the data dir"
    assert not any(home.iterdir())


@needs_strace
@needs_netns
def test_the_syscall_audit_catches_a_connection_and_a_stray_file(tmp_path: Path) -> None:
    """The audit above would see a regression: here a process does both things it must never do."""
    stray = tmp_path / "home" / ".cache" / "telemetry-id"
    script = (
        "import socket, pathlib\n"
        f"pathlib.Path({str(stray)!r}).parent.mkdir(parents=True)\n"
        f"pathlib.Path({str(stray)!r}).write_text('x')\n"
        "try:\n    socket.create_connection(('203.0.113.7', 443), timeout=2)\nexcept OSError:\n    pass\n"
    )
    trace = tmp_path / "probe.trace"
    command = f'strace -f -qq -e trace={TRACED_CALLS} -o {trace} {sys.executable} -c "{script}"'
    assert _isolated(command).returncode == 0
    report = read_trace(trace, tmp_path)
    assert report.remote == ["203.0.113.7:443"]
    assert str(stray) in report.written_outside([tmp_path / "data"])
