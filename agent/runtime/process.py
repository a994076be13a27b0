"""`harden_process(settings)`: the one call that makes a process private. Every entry point calls it first.

Importing `agent` (or any module of it) changes nothing in the process. An entry point – the CLI,
`ui.app.create_app`/`serve`, a bench script, the test session – calls `harden_process` before it builds
anything, and before Gradio, Chroma or the Hugging Face libraries are imported: some of them read these
variables once, at import.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from agent.runtime.egress import EgressGuard, install_egress_guard
from agent.settings import Settings

# Forced, not defaulted: a stray variable in the operator's shell must not turn telemetry back on.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",  # also stops Gradio's version check
    "ANONYMIZED_TELEMETRY": "False",  # Chroma
    "ORT_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
TEMP_DIR_VARIABLES = ("GRADIO_TEMP_DIR", "TMPDIR", "SQLITE_TMPDIR")


def harden_process(
    settings: Settings, *, temp_dir: Path | None = None, guard_egress: bool = True
) -> EgressGuard | None:
    """Switch this process to private mode; call it first, before building anything. Idempotent.

    1. The offline/telemetry switches of every library we use (`OFFLINE_ENV`).
    2. Every temp file – Gradio's uploads and downloads, Python's, SQLite's sort and index spills
       (otherwise in /var/tmp) – goes to `temp_dir` (default: the data dir's tmp/), where erasure and
       retention reach it.
    3. The egress guard: connections only to loopback, unix sockets and the endpoints the settings
       declare (`settings.egress_allowlist()`). `guard_egress=False` only for `models fetch`, which runs
       pip in a child process that has to reach the package registry.

    Returns the installed guard (None without one).
    """
    os.environ.update(OFFLINE_ENV)
    _use_temp_dir(temp_dir or settings.temp_dir)
    return install_egress_guard(settings.egress_allowlist()) if guard_egress else None


def _use_temp_dir(temp_dir: Path) -> None:
    temp_dir.mkdir(parents=True, exist_ok=True)
    path = str(temp_dir.resolve())
    for name in TEMP_DIR_VARIABLES:
        os.environ[name] = path
    tempfile.tempdir = path
