"""Process-wide switches that keep every library offline and silent. Applied on `import agent`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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


def harden_environment() -> None:
    """Switch off hub access and telemetry of every library we use."""
    os.environ.update(OFFLINE_ENV)


def use_temp_dir(temp_dir: Path) -> None:
    """Send every temp file (Gradio's, Python's, SQLite's) into our data dir, where erasure and
    retention reach them: SQLite otherwise spills sort and index temp files to /var/tmp."""
    temp_dir.mkdir(parents=True, exist_ok=True)
    path = str(temp_dir.resolve())
    for name in ("GRADIO_TEMP_DIR", "TMPDIR", "SQLITE_TMPDIR"):
        os.environ[name] = path
    tempfile.tempdir = path
