"""Importing the code changes nothing in the process: only `harden_process(settings)` does, when an entry
point calls it. Each check runs in a fresh interpreter (this test process is hardened by conftest)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from agent.runtime.process import OFFLINE_ENV, TEMP_DIR_VARIABLES

ROOT = Path(__file__).resolve().parent.parent
ENTRY_MODULES = "import agent, ui.app, agent.cli, agent.wiring, agent.runtime.process, agent.runtime.egress"


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a new interpreter whose environment has none of the variables hardening sets."""
    hardened = {*OFFLINE_ENV, *TEMP_DIR_VARIABLES}
    env = {k: v for k, v in os.environ.items() if k not in hardened}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_leaves_environment_and_temp_dir_alone() -> None:
    result = _fresh_python(
        f"""
        import os, tempfile, socket
        e = dict(os.environ)
        {ENTRY_MODULES}
        assert dict(os.environ) == e, set(os.environ.items()) ^ set(e.items())
        assert tempfile.tempdir is None, tempfile.tempdir
        """
    )
    assert result.returncode == 0, result.stderr


def test_import_installs_no_egress_guard() -> None:
    result = _fresh_python(
        f"""
        import socket
        {ENTRY_MODULES}
        from agent.runtime.egress import EgressBlocked, installed_guard
        assert installed_guard() is None
        try:
            # TEST-NET-1 (RFC 5737) is never routed: this fails or times out, nothing in-process refuses it
            socket.create_connection(("192.0.2.1", 9), timeout=0.2).close()
        except EgressBlocked as exc:
            raise SystemExit(f"refused by the egress guard right after import: {{exc}}")
        except PermissionError as exc:
            raise SystemExit(f"refused in-process right after import: {{exc}}")
        except OSError:
            pass  # unreachable or timed out: the network stack was asked, as it should be
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_harden_process_then_applies_everything(tmp_path: Path) -> None:
    result = _fresh_python(
        f"""
        import os, socket, tempfile
        from pathlib import Path
        from agent.runtime.egress import EgressBlocked, blocked_attempts
        from agent.runtime.process import OFFLINE_ENV, harden_process
        from agent.settings import Settings

        guard = harden_process(Settings(data_dir=Path({str(tmp_path)!r})))
        temp = str((Path({str(tmp_path)!r}) / "tmp").resolve())
        assert tempfile.tempdir == temp and tempfile.gettempdir() == temp
        assert all(os.environ[n] == temp for n in ("GRADIO_TEMP_DIR", "TMPDIR", "SQLITE_TMPDIR"))
        assert all(os.environ[k] == v for k, v in OFFLINE_ENV.items())
        try:
            socket.create_connection(("192.0.2.1", 9), timeout=0.2)
            raise SystemExit("connected")
        except EgressBlocked:
            pass
        assert blocked_attempts() == guard.blocked_attempts() == [("192.0.2.1", 9)]
        """
    )
    assert result.returncode == 0, result.stderr


def test_the_public_names_import() -> None:
    result = _fresh_python(
        """
        import agent
        missing = [name for name in agent.__all__ if getattr(agent, name, None) is None]
        assert not missing, missing
        assert {"Services", "build_services", "harden_process", "SupportAgent"} <= set(agent.__all__)
        """
    )
    assert result.returncode == 0, result.stderr
